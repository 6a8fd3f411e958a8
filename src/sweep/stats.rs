//! Aggregation across seeds: mean, sample standard deviation and a 95%
//! confidence interval for the mean (Student's t).

/// Summary of one metric over the seeds of a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub sd: f64,
    /// Half-width of the 95% confidence interval of the mean.
    pub ci95: f64,
}

/// t quantile 0.975 for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Summarises `values` (`None` when empty).
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Summary {
            n,
            mean,
            sd: 0.0,
            ci95: 0.0,
        });
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let t = T975.get(n - 2).copied().unwrap_or(1.96);
    Some(Summary {
        n,
        mean,
        sd,
        ci95: t * sd / (n as f64).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.mean, 2.5);
        assert!((s.sd - 1.290_994).abs() < 1e-6);
        // t(3) = 3.182: 3.182 × 1.291 / 2 = 2.054.
        assert!((s.ci95 - 2.054).abs() < 1e-3);
        assert_eq!(summarize(&[5.0]).unwrap().ci95, 0.0);
        assert!(summarize(&[]).is_none());
    }
}
