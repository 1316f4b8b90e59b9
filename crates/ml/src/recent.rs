//! A bounded memory of recent values by a 32-byte digest (a SHA-256 of what they were
//! computed from, never the text itself): the embedding worker's sentence vectors and an
//! exemplar index's passage scores.

use std::collections::{HashMap, VecDeque};

/// At most `capacity` values, the oldest inserted dropped first.
pub struct Recent<V> {
    capacity: usize,
    values: HashMap<[u8; 32], V>,
    order: VecDeque<[u8; 32]>,
}

impl<V: Clone> Recent<V> {
    /// An empty memory of at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            values: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The value remembered for `key`.
    pub fn get(&self, key: &[u8; 32]) -> Option<V> {
        self.values.get(key).cloned()
    }

    /// Remembers `value` for `key`, dropping the oldest beyond the capacity.
    pub fn put(&mut self, key: [u8; 32], value: V) {
        if self.values.insert(key, value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.values.remove(&oldest);
            }
        }
    }

    /// How many values are remembered.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_its_capacity_oldest_dropped_first() {
        let key = |n: u8| -> [u8; 32] { [n; 32] };
        let mut recent = Recent::new(3);
        for n in 0..4 {
            recent.put(key(n), n);
        }
        recent.put(key(2), 20);
        assert_eq!(recent.len(), 3);
        assert!(recent.get(&key(0)).is_none(), "the oldest is dropped");
        assert_eq!(recent.get(&key(2)), Some(20));
        assert_eq!(recent.get(&key(3)), Some(3));
    }
}
