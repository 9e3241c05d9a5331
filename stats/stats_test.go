package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The example of scipy.stats.mannwhitneyu's documentation (SciPy 1.11+,
// "Examples": ages of male and female employees at promotion, from
// Conover, Practical Nonparametric Statistics): U1 = 17, exact p =
// 0.1111111111111111, asymptotic p = 0.11134688653314041.
var males, females = []float64{19, 22, 16, 29, 24}, []float64{20, 11, 17, 12}

func TestMannWhitneyScipyExample(t *testing.T) {
	ex, err := MannWhitneyUExact(males, females)
	if err != nil {
		t.Fatal(err)
	}
	if ex.U != 17 || !near(ex.P, 0.1111111111111111, 1e-12) || !ex.Exact {
		t.Errorf("exact: %+v, want U 17, p 0.1111111111111111", ex)
	}
	as, err := MannWhitneyUNormal(males, females)
	if err != nil {
		t.Fatal(err)
	}
	if as.U != 17 || !near(as.P, 0.11134688653314041, 1e-12) || as.Exact {
		t.Errorf("asymptotic: %+v, want U 17, p 0.11134688653314041", as)
	}
	// Small, no ties: the automatic choice is the exact distribution.
	if au, _ := MannWhitneyU(males, females); au != ex {
		t.Errorf("auto: %+v, want the exact result %+v", au, ex)
	}
	// U of the other sample is n1·n2 − U; the p-value is symmetric.
	sw, _ := MannWhitneyUExact(females, males)
	if sw.U != 3 || !near(sw.P, ex.P, 1e-12) {
		t.Errorf("swapped: %+v, want U 3 and the same p", sw)
	}
}

// The example of R's ?wilcox.test (Hollander & Wolfe 1973, p. 69:
// permeability constants of the human chorioamnion): W = 35, and the
// one-sided exact p-value of alternative = "greater" is 0.1272, so the
// two-sided exact p-value is 0.2544 (R rounds to 4 digits).
func TestMannWhitneyRExample(t *testing.T) {
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	r, err := MannWhitneyUExact(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if r.U != 35 || !near(r.P, 2*0.1272, 1e-4) {
		t.Errorf("%+v, want W 35, p 0.2544", r)
	}
}

func TestMannWhitneyTiesAndDegenerate(t *testing.T) {
	if _, err := MannWhitneyUExact([]float64{1, 2}, []float64{2, 3}); err != ErrTies {
		t.Errorf("exact with ties: err %v, want ErrTies", err)
	}
	// Ties: the auto method falls back to the normal approximation with
	// the tie correction. Hand computation: x = {1, 2, 2}, y = {2, 3, 3};
	// mid-ranks 1, 3, 3 | 3, 5.5, 5.5; R1 = 7, U = 1; ties t = 3 and 2 give
	// Σ(t³−t) = 24 + 6 = 30; var = 9/12 · (7 − 30/30) = 4.5;
	// z = (|1 − 4.5| − 0.5)/√4.5 = 1.41421…; p = erfc(z/√2) = erfc(1) =
	// 0.157299207…
	r, err := MannWhitneyU([]float64{1, 2, 2}, []float64{2, 3, 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Exact || r.U != 1 || !near(r.P, 0.15729920705028513, 1e-12) {
		t.Errorf("ties: %+v, want U 1, p 0.157299…", r)
	}
	if r, _ := MannWhitneyU([]float64{5, 5, 5, 5, 5, 5, 5, 5}, []float64{5, 5, 5, 5, 5, 5, 5, 5}); r.P != 1 {
		t.Errorf("all equal: p %v, want 1", r.P)
	}
	if _, err := MannWhitneyU(nil, []float64{1}); err != ErrEmpty {
		t.Errorf("empty: %v", err)
	}
}

// Quantile follows R's type 7 / numpy's default: numpy.percentile's
// documented example [[10, 7, 4], [3, 2, 1]] has median 3.5; R's
// quantile(1:10, 0.1) is 1.9.
func TestQuantile(t *testing.T) {
	if q := Quantile([]float64{1, 2, 3, 4, 7, 10}, 0.5); q != 3.5 {
		t.Errorf("median %v, want 3.5", q)
	}
	if q := Quantile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.1); !near(q, 1.9, 1e-12) {
		t.Errorf("q0.1 %v, want 1.9", q)
	}
}

func TestBootstrapMeanDiff(t *testing.T) {
	// Constant samples: every resample gives the same difference.
	iv, err := BootstrapMeanDiff([]float64{3, 3, 3}, []float64{5, 5}, 0.95, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if iv != (Interval{2, 2, 2}) {
		t.Errorf("constant: %+v", iv)
	}
	// Same seed, same answer.
	x := []float64{1, 4, 2, 8, 5, 7}
	y := []float64{3, 9, 4, 10, 6}
	a, _ := BootstrapMeanDiff(x, y, 0.95, 1000, 42)
	b, _ := BootstrapMeanDiff(x, y, 0.95, 1000, 42)
	if a != b || !near(a.Estimate, Mean(y)-Mean(x), 1e-12) || !(a.Low < a.Estimate && a.Estimate < a.High) {
		t.Errorf("%+v vs %+v", a, b)
	}
	// Coverage: for normal samples (n = 30, σ = 1) whose means differ by
	// 0.5, the 95% interval holds the true difference in about 95% of
	// trials (the percentile bootstrap runs a little narrow at n = 30).
	rng := rand.New(rand.NewPCG(7, 7))
	hit := 0
	const trials = 300
	for i := 0; i < trials; i++ {
		xs, ys := make([]float64, 30), make([]float64, 30)
		for j := range xs {
			xs[j] = rng.NormFloat64()
			ys[j] = 0.5 + rng.NormFloat64()
		}
		iv, _ := BootstrapMeanDiff(xs, ys, 0.95, 400, uint64(i))
		if !iv.Excludes(0.5) {
			hit++
		}
	}
	if c := float64(hit) / trials; c < 0.88 || c > 0.99 {
		t.Errorf("coverage %.3f, want about 0.95", c)
	}
}
