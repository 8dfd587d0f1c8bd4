//! The slot map of a cluster: which master serves each hash slot, read with
//! `CLUSTER SLOTS` and corrected by `MOVED` replies.

use std::fmt;
use std::sync::Arc;

use redis::{ErrorKind, RedisError, Value};

use super::keys::SLOT_COUNT;

/// The address of a cluster node, as the cluster announces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Node {
    pub(crate) host: Arc<str>,
    pub(crate) port: u16,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Node {
    /// Parses `host:port` (the address in a `MOVED` or `ASK` reply). An empty host means
    /// "the node that answered", so it is taken from `answered`.
    pub(crate) fn parse(address: &str, answered: &Node) -> Option<Node> {
        let (host, port) = address.rsplit_once(':')?;
        let port = port.parse().ok()?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.is_empty() {
            Arc::clone(&answered.host)
        } else {
            Arc::from(host)
        };
        Some(Node { host, port })
    }
}

/// Marks a slot that no known master serves.
const UNASSIGNED: u16 = u16::MAX;

/// Which master serves each slot.
#[derive(Debug, Clone)]
pub(crate) struct SlotMap {
    /// One entry per slot: an index into `nodes`, or [`UNASSIGNED`].
    owners: Vec<u16>,
    nodes: Vec<Node>,
}

impl SlotMap {
    /// The master serving `slot`, if any.
    pub(crate) fn owner(&self, slot: u16) -> Option<&Node> {
        let index = *self.owners.get(usize::from(slot))?;
        self.nodes.get(usize::from(index))
    }

    /// The masters that serve at least one slot (and any recorded since).
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The masters serving at least one slot, in a stable order (by address).
    pub(crate) fn masters(&self) -> Vec<Node> {
        let mut serving = vec![false; self.nodes.len()];
        for &owner in &self.owners {
            if let Some(flag) = serving.get_mut(usize::from(owner)) {
                *flag = true;
            }
        }
        let mut masters: Vec<Node> = self
            .nodes
            .iter()
            .zip(serving)
            .filter(|(_, serves)| *serves)
            .map(|(node, _)| node.clone())
            .collect();
        masters.sort_by_key(|node| node.to_string());
        masters
    }

    /// Records that `node` serves `slot` (after a `MOVED` reply).
    pub(crate) fn assign(&mut self, slot: u16, node: &Node) {
        let index = match self.nodes.iter().position(|known| known == node) {
            Some(index) => index,
            None => {
                self.nodes.push(node.clone());
                self.nodes.len() - 1
            }
        };
        if let (Some(entry), Ok(index)) =
            (self.owners.get_mut(usize::from(slot)), u16::try_from(index))
        {
            *entry = index;
        }
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, ...], replicas...], ...]`.
    /// `answered` stands in for an empty host (a node that does not announce its address).
    pub(crate) fn parse(reply: &Value, answered: Option<&Node>) -> Result<SlotMap, RedisError> {
        let invalid = |detail: String| {
            RedisError::from((ErrorKind::Client, "unexpected CLUSTER SLOTS reply", detail))
        };
        let Value::Array(ranges) = reply else {
            return Err(invalid(format!("{reply:?}")));
        };
        let mut map = SlotMap {
            owners: vec![UNASSIGNED; usize::from(SLOT_COUNT)],
            nodes: Vec::new(),
        };
        for range in ranges {
            let Value::Array(fields) = range else {
                return Err(invalid(format!("range {range:?}")));
            };
            let (Some(start), Some(end), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return Err(invalid(format!("range {fields:?}")));
            };
            let (Some(start), Some(end)) = (slot_number(start), slot_number(end)) else {
                return Err(invalid(format!("slots {start:?}..{end:?}")));
            };
            let (Some(host), Some(port)) = (
                master.first().and_then(text),
                master.get(1).and_then(slot_number),
            ) else {
                return Err(invalid(format!("master {master:?}")));
            };
            let host = match (host.as_str(), answered) {
                ("" | "?", Some(answered)) => Arc::clone(&answered.host),
                ("" | "?", None) => {
                    return Err(invalid(format!(
                        "slots {start}..={end}: the master announces no address"
                    )))
                }
                (host, _) => Arc::from(host),
            };
            let node = Node { host, port };
            for slot in start..=end.min(SLOT_COUNT - 1) {
                map.assign(slot, &node);
            }
        }
        Ok(map)
    }
}

fn slot_number(value: &Value) -> Option<u16> {
    match value {
        Value::Int(n) => u16::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_cluster_slots() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(7000), bulk("id0")]),
            ]),
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(16383),
                Value::Array(vec![bulk(""), Value::Int(7001), bulk("id1")]),
            ]),
        ]);
        let answered = Node {
            host: Arc::from("127.0.0.2"),
            port: 7001,
        };
        let mut map = SlotMap::parse(&reply, Some(&answered)).unwrap();
        assert_eq!(map.owner(0).unwrap().to_string(), "127.0.0.1:7000");
        assert_eq!(map.owner(16383).unwrap().to_string(), "127.0.0.2:7001");
        let moved = Node::parse("127.0.0.1:7002", &answered).unwrap();
        map.assign(5, &moved);
        assert_eq!(map.owner(5), Some(&moved));
        assert_eq!(map.owner(16384), None);
        assert!(SlotMap::parse(&Value::Nil, None).is_err());
    }
}
