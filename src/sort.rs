//! Stable sorting with one instantiation of the standard library's sort for the whole crate.
//!
//! `<[T]>::sort_by` is generic over the element and the comparison, and each instantiation
//! of the standard library's driftsort is several KiB of machine code: a dozen call sites
//! sorting a dozen types cost some 60 KiB of the registry binary. These helpers sort the
//! indices (`usize`, through a `dyn` comparison: a single instantiation) and then move the
//! elements into that order, so each call site adds only a few hundred bytes. The result
//! is exactly `<[T]>::sort_by`'s: a stable sort. The lists sorted here are short (headers,
//! parts, directory entries), where the extra index vector does not matter.

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp` (as `v.sort_by(cmp)`).
pub(crate) fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let order = sorted_order(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    for (a, b) in swaps(order) {
        v.swap(a, b);
    }
}

/// Sorts `v` stably by the key `f` gives (as `v.sort_by_key(f)`).
pub(crate) fn sort_by_key<T, K: Ord>(v: &mut [T], mut f: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| f(a).cmp(&f(b)));
}

/// Sorts `v` (as `v.sort()`).
pub(crate) fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// The indices `0..len` in the stable order `cmp` gives: the element to put at each place.
fn sorted_order(len: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|a, b| cmp(*a, *b));
    order
}

/// The swaps that put element `order[i]` at place `i` for every `i`, following the
/// permutation's cycles (at most `len - 1` swaps).
fn swaps(mut order: Vec<usize>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for start in 0..order.len() {
        let mut at = start;
        // `usize::MAX` marks a place already filled.
        while order[at] != usize::MAX {
            let from = order[at];
            order[at] = usize::MAX;
            if from == start {
                break;
            }
            out.push((at, from));
            at = from;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_as_the_standard_library_does(v in proptest::collection::vec((0u8..6, any::<u16>()), 0..64)) {
            // Sorted by the first field only: equal keys keep their order (stable).
            let mut want = v.clone();
            want.sort_by_key(|p| p.0);
            let mut got = v.clone();
            sort_by_key(&mut got, |p| p.0);
            prop_assert_eq!(&got, &want);
            let mut want = v.clone();
            want.sort();
            let mut got = v;
            sort(&mut got);
            prop_assert_eq!(got, want);
        }
    }
}
