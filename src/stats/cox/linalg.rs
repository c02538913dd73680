//! Small dense symmetric-matrix routines, ported in spirit from survival's
//! `cholesky2.c`, `chsolve2.c` and `chinv2.c`: an `L D L'` decomposition that
//! flags redundant columns (pivot below `toler * max(diag)`) instead of failing.
//!
//! Matrices are `p × p`, row-major in a flat `Vec<f64>`; only the lower triangle
//! is read, and the decomposition is stored in place in the lower triangle.

/// In-place `L D L'` decomposition of the symmetric matrix `m` (`n × n`, lower
/// triangle used). Returns the rank; columns judged redundant (non-finite pivot
/// or pivot `< toler * max diagonal`) get a zero diagonal. A return of `0`
/// means no positive diagonal at all. Negative pivots below `-8 eps` make the
/// result negative (`-rank`), as in R (not positive semi-definite).
pub fn cholesky2(m: &mut [f64], n: usize, toler: f64) -> i64 {
    let mut eps = 0.0f64;
    for i in 0..n {
        if m[i * n + i] > eps {
            eps = m[i * n + i];
        }
    }
    if eps == 0.0 {
        for i in 0..n {
            m[i * n + i] = 0.0;
        }
        return 0;
    }
    eps *= toler;
    let mut nonneg = 1i64;
    let mut rank = 0i64;
    for i in 0..n {
        let pivot = m[i * n + i];
        if !pivot.is_finite() || pivot < eps {
            m[i * n + i] = 0.0;
            if pivot < -8.0 * eps {
                nonneg = -1;
            }
        } else {
            rank += 1;
            for j in (i + 1)..n {
                let temp = m[j * n + i] / pivot;
                m[j * n + i] = temp;
                m[j * n + j] -= temp * temp * pivot;
                for k in (j + 1)..n {
                    m[k * n + j] -= temp * m[k * n + i];
                }
            }
        }
    }
    rank * nonneg
}

/// Solve `A b = y` given the decomposition from [`cholesky2`]; `y` is overwritten
/// with `b`. Redundant columns get `b = 0`.
pub fn chsolve2(m: &[f64], n: usize, y: &mut [f64]) {
    for i in 0..n {
        let mut temp = y[i];
        for j in 0..i {
            temp -= y[j] * m[i * n + j];
        }
        y[i] = temp;
    }
    for i in (0..n).rev() {
        if m[i * n + i] == 0.0 {
            y[i] = 0.0;
        } else {
            let mut temp = y[i] / m[i * n + i];
            for j in (i + 1)..n {
                temp -= y[j] * m[j * n + i];
            }
            y[i] = temp;
        }
    }
}

/// Invert the matrix whose decomposition [`cholesky2`] left in `m`; returns the
/// full symmetric inverse (rows/columns of redundant variables are zero).
pub fn chinv2(m: &[f64], n: usize) -> Vec<f64> {
    let mut a = m.to_vec();
    // invert the Cholesky factor in the lower triangle
    for i in 0..n {
        if a[i * n + i] > 0.0 {
            a[i * n + i] = 1.0 / a[i * n + i];
            for j in (i + 1)..n {
                a[j * n + i] = -a[j * n + i];
                for k in 0..i {
                    a[j * n + k] += a[j * n + i] * a[i * n + k];
                }
            }
        }
    }
    // F' D F -> upper triangle holds the inverse
    for i in 0..n {
        if a[i * n + i] == 0.0 {
            for j in 0..i {
                a[j * n + i] = 0.0;
            }
            for j in i..n {
                a[i * n + j] = 0.0;
            }
        } else {
            for j in (i + 1)..n {
                let temp = a[j * n + i] * a[j * n + j];
                a[i * n + j] = temp;
                for k in i..j {
                    a[i * n + k] += temp * a[j * n + k];
                }
            }
        }
    }
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            out[i * n + j] = a[i * n + j];
            out[j * n + i] = a[i * n + j];
        }
    }
    out
}

/// `b' A^- b` for a symmetric matrix `A` (R's `coxph.wtest`): the generalized
/// inverse drops redundant columns. Returns `(statistic, rank)`.
pub fn quad_form_inverse(a: &[f64], n: usize, b: &[f64], toler: f64) -> (f64, usize) {
    let mut m = a.to_vec();
    let rank = cholesky2(&mut m, n, toler);
    let mut y = b.to_vec();
    chsolve2(&m, n, &mut y);
    let stat = b.iter().zip(&y).map(|(u, v)| u * v).sum();
    (stat, rank.unsigned_abs() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_spd_matrix() {
        let a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let mut m = a.clone();
        assert_eq!(cholesky2(&mut m, 3, 1e-12), 3);
        let inv = chinv2(&m, 3);
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((s - e).abs() < 1e-14, "{i},{j}: {s}");
            }
        }
        let mut y = vec![1.0, 2.0, 3.0];
        chsolve2(&m, 3, &mut y);
        for i in 0..3 {
            let s: f64 = (0..3).map(|k| a[i * 3 + k] * y[k]).sum();
            assert!((s - (i as f64 + 1.0)).abs() < 1e-14);
        }
    }

    #[test]
    fn redundant_column_is_flagged() {
        // third column = first + second
        let a = vec![1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        let mut m = a.clone();
        assert_eq!(cholesky2(&mut m, 3, 1e-12), 2);
        assert_eq!(m[8], 0.0);
        let inv = chinv2(&m, 3);
        assert_eq!(inv[8], 0.0);
        assert_eq!(inv[2], 0.0);
    }
}
