package stats

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Interval is a confidence interval [Low, High] around Estimate.
type Interval struct {
	Estimate, Low, High float64
}

// Excludes reports whether v lies outside the interval.
func (iv Interval) Excludes(v float64) bool { return v < iv.Low || v > iv.High }

// Mean is the arithmetic mean of xs (NaN for none).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Quantile is the q-quantile of sorted (0 ≤ q ≤ 1) by linear
// interpolation between closest ranks, R's type 7 and numpy's default.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := q * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// BootstrapMeanDiff is the percentile bootstrap confidence interval, at
// level conf (e.g. 0.95), for mean(y) − mean(x): each of b resamples
// draws len(x) values from x and len(y) from y with replacement; the
// interval is the (1−conf)/2 and (1+conf)/2 quantiles of the resampled
// differences. seed fixes the resampling, so one input gives one answer.
func BootstrapMeanDiff(x, y []float64, conf float64, b int, seed uint64) (Interval, error) {
	if len(x) == 0 || len(y) == 0 {
		return Interval{}, ErrEmpty
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	diffs := make([]float64, b)
	for i := range diffs {
		diffs[i] = resampledMean(y, rng) - resampledMean(x, rng)
	}
	sort.Float64s(diffs)
	alpha := (1 - conf) / 2
	return Interval{
		Estimate: Mean(y) - Mean(x),
		Low:      Quantile(diffs, alpha),
		High:     Quantile(diffs, 1-alpha),
	}, nil
}

func resampledMean(xs []float64, rng *rand.Rand) float64 {
	s := 0.0
	for range xs {
		s += xs[rng.IntN(len(xs))]
	}
	return s / float64(len(xs))
}
