//! The shard rule of `HashedString`: which of N hash keys stores a given key.

use md5::{Digest, Md5};

/// The number of shards a `HashedString` keyspace uses unless told otherwise, as in the
/// Python library.
pub const DEFAULT_SHARD_COUNT: u32 = 64;

/// The shard, from 0 to `count - 1`, that stores `key`.
///
/// The MD5 digest of the key's UTF-8 bytes, read as a big-endian 128-bit integer, modulo
/// `count`: exactly the Python library's rule, so both pick the same shard. A `count` of 0
/// has no shards; it gives 0 rather than panicking (Python raises `ZeroDivisionError`).
pub fn shard(key: &str, count: u32) -> u32 {
    if count == 0 {
        return 0;
    }
    let digest: [u8; 16] = Md5::digest(key.as_bytes()).into();
    let shard = u128::from_be_bytes(digest) % u128::from(count);
    // Below `count`, so it fits in u32.
    shard as u32
}

#[cfg(test)]
mod tests {
    use super::{shard, DEFAULT_SHARD_COUNT};

    #[test]
    fn matches_the_python_reference_table() {
        // (key, shard of 3, of 64, of 1000), verified against the Python library.
        let table = [
            ("a", 1, 33, 497),
            ("b", 1, 15, 343),
            ("foo123", 0, 16, 416),
            ("1", 1, 27, 411),
            ("", 0, 62, 366),
            ("é", 1, 47, 335),
        ];
        for (key, of_3, of_64, of_1000) in table {
            assert_eq!(shard(key, 3), of_3, "{key:?} of 3");
            assert_eq!(shard(key, 64), of_64, "{key:?} of 64");
            assert_eq!(shard(key, 1000), of_1000, "{key:?} of 1000");
        }
    }

    #[test]
    fn edge_counts() {
        assert_eq!(DEFAULT_SHARD_COUNT, 64);
        assert_eq!(shard("a", 0), 0);
        assert_eq!(shard("a", 1), 0);
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        let full = 0x0cc1_75b9_c0f1_b6a8_31c3_99e2_6977_2661_u128;
        assert_eq!(
            u128::from(shard("a", u32::MAX)),
            full % u128::from(u32::MAX)
        );
    }
}
