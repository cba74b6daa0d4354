//! Which layer of one image is compared with which of the other: identical layers (the same
//! diff_id) are paired wherever they sit, keeping their order (the longest common run of
//! both layer lists); the layers between two such pairs are paired by position, and what is
//! left over on one side stands alone (added or removed). So a layer inserted in the middle
//! shows as one added layer, not as every later layer changing.

/// The pairs of positions, bottom layer first: `(Some(i), Some(j))` compares layer `i` of the
/// first image with layer `j` of the second; `None` on a side means the layer has no partner.
pub fn pair_layers<T: PartialEq>(before: &[T], after: &[T]) -> Vec<(Option<usize>, Option<usize>)> {
    let (n, m) = (before.len(), after.len());
    // common[i][j]: the length of the longest common subsequence of before[i..] and after[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if before[i] == after[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut identical = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if before[i] == after[j] {
            identical.push((i, j));
            i += 1;
            j += 1;
        } else if common[i + 1][j] >= common[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    let mut pairs = Vec::with_capacity(n.max(m));
    let (mut next_before, mut next_after) = (0, 0);
    for (bound_before, bound_after, identical) in identical
        .iter()
        .map(|&(i, j)| (i, j, true))
        .chain(std::iter::once((n, m, false)))
    {
        let gap = (bound_before - next_before).max(bound_after - next_after);
        for k in 0..gap {
            let x = next_before + k;
            let y = next_after + k;
            pairs.push((
                (x < bound_before).then_some(x),
                (y < bound_after).then_some(y),
            ));
        }
        if identical {
            pairs.push((Some(bound_before), Some(bound_after)));
        }
        next_before = bound_before + 1;
        next_after = bound_after + 1;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inserted_layer_stands_alone_and_the_rest_pair_with_their_twins() {
        assert_eq!(
            pair_layers(&["a", "b", "c"], &["a", "x", "b", "c"]),
            [
                (Some(0), Some(0)),
                (None, Some(1)),
                (Some(1), Some(2)),
                (Some(2), Some(3))
            ]
        );
        // A removed layer, and a changed one between identical ones paired by position.
        assert_eq!(
            pair_layers(&["a", "b", "c", "d"], &["a", "c2", "d"]),
            [
                (Some(0), Some(0)),
                (Some(1), Some(1)),
                (Some(2), None),
                (Some(3), Some(2))
            ]
        );
        // Nothing in common: by position, as before.
        assert_eq!(
            pair_layers(&["a", "b"], &["x"]),
            [(Some(0), Some(0)), (Some(1), None)]
        );
        assert_eq!(pair_layers::<&str>(&[], &[]), []);
    }
}
