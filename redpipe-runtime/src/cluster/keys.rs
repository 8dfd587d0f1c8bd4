//! Where the keys of a command are, and which hash slot a key lives in.
//!
//! redis-rs keeps its own key table private, so this is ours: the commands whose keys are
//! not simply the first argument are listed; every other command with an argument is
//! taken to have its key there, and commands that touch no key are listed as keyless.

use redis::{Arg, Cmd};

/// Number of hash slots in a Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// Where a command must be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The command touches no key (PING, INFO...).
    Keyless,
    /// Every key of the command is in this slot.
    Slot(u16),
    /// The keys are in (at least) these two different slots.
    CrossSlot(u16, u16),
}

/// Where `cmd` must be sent.
pub(crate) fn target(cmd: &Cmd) -> Target {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => bytes,
            // A SCAN cursor (or a future kind of argument): never a key.
            _ => b"0".as_slice(),
        })
        .collect();
    let mut first: Option<u16> = None;
    for key in keys(&args) {
        let slot = key_slot(key);
        match first {
            None => first = Some(slot),
            Some(seen) if seen != slot => return Target::CrossSlot(seen, slot),
            Some(_) => {}
        }
    }
    first.map_or(Target::Keyless, Target::Slot)
}

/// The keys among `args` (the command name first).
fn keys<'a>(args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let Some(name) = args.first() else {
        return Vec::new();
    };
    let name = name.to_ascii_uppercase();
    let n = args.len();
    let span = |from: usize, to: usize| -> Vec<&'a [u8]> {
        let to = to.min(n);
        if from < to {
            args[from..to].to_vec()
        } else {
            Vec::new()
        }
    };
    let numkeys = |at: usize| -> usize {
        args.get(at)
            .and_then(|count| std::str::from_utf8(count).ok())
            .and_then(|count| count.parse().ok())
            .unwrap_or(0)
    };
    let subcommand = || args.get(1).map(|sub| sub.to_ascii_uppercase());
    match name.as_slice() {
        // Commands without keys go to the keyless node.
        b"PING" | b"ECHO" | b"INFO" | b"TIME" | b"DBSIZE" | b"FLUSHDB" | b"FLUSHALL"
        | b"RANDOMKEY" | b"KEYS" | b"SCAN" | b"SCRIPT" | b"FUNCTION" | b"CONFIG" | b"CLIENT"
        | b"CLUSTER" | b"COMMAND" | b"LASTSAVE" | b"SAVE" | b"BGSAVE" | b"BGREWRITEAOF"
        | b"WAIT" | b"WAITAOF" | b"PUBLISH" | b"SPUBLISH" | b"PUBSUB" | b"MULTI" | b"EXEC"
        | b"DISCARD" | b"UNWATCH" | b"READONLY" | b"READWRITE" | b"ASKING" | b"SELECT"
        | b"SWAPDB" | b"DEBUG" | b"SLOWLOG" | b"LATENCY" | b"ACL" | b"AUTH" | b"HELLO"
        | b"QUIT" | b"RESET" | b"ROLE" | b"LOLWUT" | b"MONITOR" | b"SHUTDOWN" | b"MODULE" => {
            Vec::new()
        }
        b"MEMORY" => match subcommand().as_deref() {
            Some(b"USAGE") => span(2, 3),
            _ => Vec::new(),
        },
        b"OBJECT" | b"XINFO" | b"XGROUP" => match subcommand().as_deref() {
            Some(b"HELP") | None => Vec::new(),
            Some(_) => span(2, 3),
        },
        b"DEL" | b"UNLINK" | b"EXISTS" | b"TOUCH" | b"MGET" | b"WATCH" | b"SINTER" | b"SUNION"
        | b"SDIFF" | b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" | b"PFCOUNT" | b"PFMERGE" => {
            span(1, n)
        }
        b"RENAME" | b"RENAMENX" | b"RPOPLPUSH" | b"BRPOPLPUSH" | b"SMOVE" | b"LMOVE"
        | b"BLMOVE" | b"COPY" | b"GEOSEARCHSTORE" | b"ZRANGESTORE" => span(1, 3),
        b"BITOP" => span(2, n),
        b"MSET" | b"MSETNX" => args.iter().skip(1).step_by(2).copied().collect(),
        b"BLPOP" | b"BRPOP" | b"BZPOPMIN" | b"BZPOPMAX" => span(1, n.saturating_sub(1)),
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" | b"BLMPOP"
        | b"BZMPOP" => span(3, 3 + numkeys(2)),
        b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => {
            let mut keys = span(1, 2);
            keys.extend(span(3, 3 + numkeys(2)));
            keys
        }
        b"ZUNION" | b"ZINTER" | b"ZDIFF" | b"SINTERCARD" | b"ZINTERCARD" | b"LMPOP" | b"ZMPOP" => {
            span(2, 2 + numkeys(1))
        }
        b"XREAD" | b"XREADGROUP" => {
            let streams = args
                .iter()
                .position(|arg| arg.eq_ignore_ascii_case(b"STREAMS"));
            match streams {
                // After STREAMS come the keys, then as many IDs.
                Some(at) => span(at + 1, at + 1 + (n - at - 1) / 2),
                None => Vec::new(),
            }
        }
        _ => span(1, 2),
    }
}

/// The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag (the content of the
/// first `{...}` when not empty) or of the whole key, modulo [`SLOT_COUNT`].
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key).unwrap_or(key)) % SLOT_COUNT
}

fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &rest[..close])
}

/// CRC16-CCITT, XMODEM variant (polynomial 0x1021, initial value 0), as Redis uses.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_of(args: &[&str]) -> Target {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        target(&cmd)
    }

    #[test]
    fn slots_match_the_redis_documentation() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
        // Empty braces are not a hash tag; only the first `{` and the first `}` after it
        // count.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOT_COUNT);
        assert_eq!(key_slot(b"{}x"), crc16(b"{}x") % SLOT_COUNT);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{unclosed"), crc16(b"{unclosed") % SLOT_COUNT);
    }

    #[test]
    fn key_positions() {
        assert_eq!(target_of(&["PING"]), Target::Keyless);
        assert_eq!(target_of(&["INFO", "server"]), Target::Keyless);
        assert_eq!(target_of(&["get", "foo"]), Target::Slot(12182));
        assert_eq!(
            target_of(&["MGET", "{a}1", "{a}2"]),
            Target::Slot(key_slot(b"a"))
        );
        assert!(matches!(
            target_of(&["MGET", "foo", "bar"]),
            Target::CrossSlot(..)
        ));
        // MSET values are not keys.
        assert_eq!(
            target_of(&["MSET", "{a}1", "foo", "{a}2", "bar"]),
            Target::Slot(key_slot(b"a"))
        );
        // EVAL follows numkeys; the arguments after the keys are not keys.
        assert_eq!(
            target_of(&["EVAL", "return 1", "1", "foo", "bar"]),
            Target::Slot(12182)
        );
        assert_eq!(
            target_of(&["EVAL", "return 1", "0", "foo"]),
            Target::Keyless
        );
        // The BLPOP timeout is not a key.
        assert_eq!(target_of(&["BLPOP", "foo", "0"]), Target::Slot(12182));
        assert_eq!(
            target_of(&["XREAD", "COUNT", "2", "STREAMS", "foo", "0"]),
            Target::Slot(12182)
        );
        assert_eq!(
            target_of(&[
                "ZUNIONSTORE",
                "{a}d",
                "2",
                "{a}x",
                "{a}y",
                "WEIGHTS",
                "1",
                "2"
            ]),
            Target::Slot(key_slot(b"a"))
        );
        assert_eq!(
            target_of(&["OBJECT", "ENCODING", "foo"]),
            Target::Slot(12182)
        );
    }
}
