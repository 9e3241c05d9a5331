package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// errParse: vLLM's /metrics answer is not the Prometheus text format.
var errParse = errors.New("cannot parse vLLM /metrics")

// bucket is one cumulative histogram bucket.
type bucket struct {
	UpperBound float64
	Count      float64 // cumulative
}

// hist is one histogram series, buckets sorted by bound, the last +Inf.
type hist struct {
	Labels  map[string]string
	Buckets []bucket
	Count   float64
	Sum     float64
}

// Scrape is the histograms of one /metrics answer, by family and by the
// series' label signature.
type Scrape map[string]map[string]hist

// parseScrape reads the Prometheus text exposition format (what vLLM's
// prometheus_client serves) and keeps the histogram families.
func parseScrape(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errParse, err)
	}
	out := Scrape{}
	for name, f := range fams {
		if f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		series := map[string]hist{}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h == nil {
				continue
			}
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			s := hist{Labels: labels, Sum: h.GetSampleSum(), Count: float64(h.GetSampleCount())}
			if h.SampleCountFloat != nil {
				s.Count = h.GetSampleCountFloat()
			}
			for _, b := range h.GetBucket() {
				c := float64(b.GetCumulativeCount())
				if b.CumulativeCountFloat != nil {
					c = b.GetCumulativeCountFloat()
				}
				s.Buckets = append(s.Buckets, bucket{UpperBound: b.GetUpperBound(), Count: c})
			}
			sort.Slice(s.Buckets, func(i, j int) bool { return s.Buckets[i].UpperBound < s.Buckets[j].UpperBound })
			if n := len(s.Buckets); n == 0 || !math.IsInf(s.Buckets[n-1].UpperBound, 1) {
				s.Buckets = append(s.Buckets, bucket{UpperBound: math.Inf(1), Count: s.Count})
			}
			series[signature(labels)] = s
		}
		out[name] = series
	}
	return out, nil
}

// signature is a stable key of a label set.
func signature(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// delta returns cur minus prev, bucket by bucket, and whether a counter
// went down (the series was reset: vLLM restarted), in which case cur
// itself is the delta, as Prometheus' increase() treats a reset.
func delta(prev, cur hist) (hist, bool) {
	if len(prev.Buckets) != len(cur.Buckets) || cur.Count < prev.Count {
		return cur, true
	}
	d := hist{Labels: cur.Labels, Buckets: make([]bucket, len(cur.Buckets)), Count: cur.Count - prev.Count, Sum: cur.Sum - prev.Sum}
	for i := range cur.Buckets {
		if cur.Buckets[i].UpperBound != prev.Buckets[i].UpperBound || cur.Buckets[i].Count < prev.Buckets[i].Count {
			return cur, true
		}
		d.Buckets[i] = bucket{UpperBound: cur.Buckets[i].UpperBound, Count: cur.Buckets[i].Count - prev.Buckets[i].Count}
	}
	return d, false
}

// add sums b into a (same bucket layout; a may be empty).
func add(a, b hist) (hist, error) {
	if len(a.Buckets) == 0 {
		out := hist{Buckets: append([]bucket(nil), b.Buckets...), Count: b.Count, Sum: b.Sum}
		return out, nil
	}
	if len(a.Buckets) != len(b.Buckets) {
		return a, fmt.Errorf("histogram series have different buckets (%d and %d)", len(a.Buckets), len(b.Buckets))
	}
	for i := range a.Buckets {
		if a.Buckets[i].UpperBound != b.Buckets[i].UpperBound {
			return a, fmt.Errorf("histogram series have different bucket bounds (%g and %g)", a.Buckets[i].UpperBound, b.Buckets[i].UpperBound)
		}
		a.Buckets[i].Count += b.Buckets[i].Count
	}
	a.Count += b.Count
	a.Sum += b.Sum
	return a, nil
}

// quantile estimates the q-quantile of h the way PromQL's
// histogram_quantile does: linear interpolation inside the bucket that
// holds rank q×count, the lower bound of the first bucket being 0 when
// its upper bound is positive; a rank in the +Inf bucket gives the highest
// finite bound. NaN for an empty histogram.
func quantile(q float64, h hist) float64 {
	n := len(h.Buckets)
	if n == 0 {
		return math.NaN()
	}
	total := h.Buckets[n-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(n, func(i int) bool { return h.Buckets[i].Count >= rank })
	if i == n-1 {
		if n < 2 {
			return math.NaN()
		}
		return h.Buckets[n-2].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.Buckets[i-1].UpperBound, h.Buckets[i-1].Count
	} else if h.Buckets[0].UpperBound <= 0 {
		return h.Buckets[0].UpperBound
	}
	upper := h.Buckets[i].UpperBound
	inBucket := h.Buckets[i].Count - below
	if inBucket <= 0 {
		return upper
	}
	return lower + (upper-lower)*(rank-below)/inBucket
}
