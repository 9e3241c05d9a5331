package stats

import (
	"errors"
	"math"
	"sort"
)

// ErrEmpty is returned when a sample has no values.
var ErrEmpty = errors.New("stats: empty sample")

// MannWhitney is the result of a two-sided Mann-Whitney U test.
type MannWhitney struct {
	// U is the statistic of the first sample: the number of pairs (x, y)
	// with x > y, ties counting one half (scipy's U1, R's W).
	U float64
	// P is the two-sided p-value.
	P float64
	// Exact says P comes from the exact distribution of U (both samples
	// small, no ties); otherwise from the normal approximation with tie
	// and continuity corrections.
	Exact bool
}

// exactLimit is the largest sample size for which the exact distribution
// is used (as scipy's method="auto" does, below 8 values per side).
const exactLimit = 8

// MannWhitneyU tests whether x and y come from one distribution, two-sided.
// For samples of fewer than 8 values each and no ties it uses the exact
// distribution of U, as scipy.stats.mannwhitneyu(method="auto") and R's
// wilcox.test do; otherwise the normal approximation with the tie
// correction of the variance and a continuity correction of 0.5.
func MannWhitneyU(x, y []float64) (MannWhitney, error) {
	return mannWhitney(x, y, auto)
}

// MannWhitneyUNormal is MannWhitneyU with the normal approximation always
// (scipy's method="asymptotic", R's exact=FALSE).
func MannWhitneyUNormal(x, y []float64) (MannWhitney, error) {
	return mannWhitney(x, y, normal)
}

// ErrTies is returned by MannWhitneyUExact for samples with tied values.
var ErrTies = errors.New("stats: the exact Mann-Whitney distribution needs samples without ties")

// MannWhitneyUExact is MannWhitneyU with the exact distribution always
// (scipy's method="exact", R's exact=TRUE); it refuses ties.
func MannWhitneyUExact(x, y []float64) (MannWhitney, error) {
	return mannWhitney(x, y, exact)
}

type method int

const (
	auto method = iota
	normal
	exact
)

func mannWhitney(x, y []float64, m method) (MannWhitney, error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{}, ErrEmpty
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	// Mid-ranks; tieTerm = Σ (t³ − t) over tie groups.
	r1, tieTerm := 0.0, 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		if t := float64(j - i); t > 1 {
			tieTerm += t*t*t - t
		}
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	u := r1 - f1*(f1+1)/2
	mu := f1 * f2 / 2
	if m == exact && tieTerm != 0 {
		return MannWhitney{}, ErrTies
	}
	if m == exact || m == auto && n1 < exactLimit && n2 < exactLimit && tieTerm == 0 {
		return MannWhitney{U: u, P: exactP(u, n1, n2), Exact: true}, nil
	}
	n := f1 + f2
	variance := f1 * f2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 { // every value equal: no evidence of a difference
		return MannWhitney{U: u, P: 1}, nil
	}
	z := (math.Abs(u-mu) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	p := math.Erfc(z / math.Sqrt2) // 2 × (1 − Φ(z))
	return MannWhitney{U: u, P: math.Min(1, p)}, nil
}

// exactP is the two-sided exact p-value of U for samples of n1 and n2
// values without ties: 2 × P(U' ≥ max(U, n1·n2 − U)), capped at 1, with
// the distribution of U counted by the recurrence of Mann and Whitney
// (1947): c(u; m, n) = c(u − n; m − 1, n) + c(u; m, n − 1).
func exactP(u float64, n1, n2 int) float64 {
	maxU := n1 * n2
	// counts[m][n][u], built up for m ≤ n1, n ≤ n2.
	counts := make([][][]float64, n1+1)
	for m := 0; m <= n1; m++ {
		counts[m] = make([][]float64, n2+1)
		for n := 0; n <= n2; n++ {
			c := make([]float64, m*n+1)
			if m == 0 || n == 0 {
				c[0] = 1
			} else {
				for k := range c {
					if k-n >= 0 && k-n < len(counts[m-1][n]) {
						c[k] += counts[m-1][n][k-n]
					}
					if k < len(counts[m][n-1]) {
						c[k] += counts[m][n-1][k]
					}
				}
			}
			counts[m][n] = c
		}
	}
	dist := counts[n1][n2]
	total := 0.0
	for _, c := range dist {
		total += c
	}
	hi := math.Max(u, float64(maxU)-u)
	tail := 0.0
	for k := int(math.Ceil(hi)); k <= maxU; k++ {
		tail += dist[k]
	}
	return math.Min(1, 2*tail/total)
}
