package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// vllmAPI is what the controller needs from vLLM (*Client).
type vllmAPI interface {
	StartProfile(ctx context.Context, timeout time.Duration) error
	StopProfile(ctx context.Context, timeout time.Duration) error
	Metrics(ctx context.Context, timeout time.Duration) (Scrape, error)
}

// Precondition is asked before every start; a non-nil error refuses it.
// Return (or wrap) ErrDiskBudget when the profiler directory's disk budget
// is short.
type Precondition func(ctx context.Context) error

// Options are the controller's collaborators; all are optional.
type Options struct {
	Logger *slog.Logger
	// Getenv reads VLLM_API_KEY (default os.Getenv).
	Getenv func(string) string
	// Clock defaults to the wall clock.
	Clock Clock
	// HTTPClient talks to vLLM (default: one with per-call timeouts).
	HTTPClient *http.Client
	// Precondition is asked before every start (the disk budget).
	Precondition Precondition
	// ShutdownTimeout bounds the stop Run sends when its context ends
	// (SIGTERM); default Config.StopTimeout. Keep it inside the pod's
	// terminationGracePeriodSeconds.
	ShutdownTimeout time.Duration
	// ProfilerDirs are vLLM's torch_profiler_dir(s): new trace files in them
	// are attributed to the capture, and in Steps mode their appearance
	// ends it. The default state file lives in the first.
	ProfilerDirs []string

	// sleep waits between stop attempts (default: on Clock); tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// idle is called each time the loop is about to wait (tests).
	idle func()
	api  vllmAPI
}

// Controller runs the captures of one vLLM. Build it with New, run Run in
// one goroutine; every other method is safe to call concurrently.
type Controller struct {
	cfg   Config
	api   vllmAPI
	clk   Clock
	sleep func(ctx context.Context, d time.Duration) error
	log   *slog.Logger
	pre   Precondition
	dirs  []string
	store stateStore
	m     *metrics
	idle  func()
	// shutdownTimeout bounds the stop after the context ended
	shutdownTimeout time.Duration

	kick chan struct{}

	mu       sync.Mutex
	cur      *Capture   // the one capture not yet ended, if any
	recent   []*Capture // ended, oldest first, at most maxRecent
	byID     map[string]*Capture
	starts   []time.Time // start times of the last hour
	lastEnd  time.Time   // the cool-down runs from here
	recovery *Capture    // stop failed: vLLM's profiler may still be on
	closing  bool

	// loop-only state
	triggers     []*triggerState
	nextSchedule time.Time
	nextPoll     time.Time
	scrapeErr    string // last scrape error, to log changes only
	stopAt       time.Time
	hardStop     time.Time
	flushUntil   time.Time
	nextDirCheck time.Time
	before       map[string]int64 // trace files present at the start
	seenSizes    map[string]int64 // Steps mode: new files' sizes at the last check
	recoveryAt   time.Time
	recoveryN    int
}

// New validates cfg and builds a controller. It reads the state file, so a
// capture left in flight by a crashed run is stopped first thing in Run.
func New(cfg Config, opts Options) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("capture: profiling.vllm_url is not set")
	}
	if cfg.StateFile == "" {
		if len(opts.ProfilerDirs) == 0 {
			return nil, errors.New("capture: profiling.state_file is required when there is no profiler directory")
		}
		cfg.StateFile = filepath.Join(opts.ProfilerDirs[0], DefaultStateName)
	}
	c := &Controller{
		cfg:   cfg,
		api:   opts.api,
		clk:   opts.Clock,
		sleep: opts.sleep,
		log:   opts.Logger,
		pre:   opts.Precondition,
		dirs:  append([]string(nil), opts.ProfilerDirs...),
		store: stateStore{path: cfg.StateFile},
		m:     newMetrics(),
		idle:  opts.idle,

		shutdownTimeout: opts.ShutdownTimeout,
		kick:            make(chan struct{}, 1),
		byID:            map[string]*Capture{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "capture")
	if c.clk == nil {
		c.clk = RealClock{}
	}
	if c.shutdownTimeout <= 0 {
		c.shutdownTimeout = cfg.StopTimeout
	}
	if c.sleep == nil {
		c.sleep = func(ctx context.Context, d time.Duration) error { return sleepOn(ctx, c.clk, d) }
	}
	if c.api == nil {
		getenv := opts.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		c.api = NewClient(cfg, getenv, opts.HTTPClient)
	}
	for _, t := range cfg.Triggers {
		c.triggers = append(c.triggers, newTriggerState(t))
	}
	for _, trig := range c.triggerNames() {
		c.m.captures.WithLabelValues(trig, "ok")
	}
	doc, err := c.store.load()
	if err != nil {
		return nil, fmt.Errorf("capture: %w (remove it to start afresh; first make sure vLLM's profiler is stopped: POST %s/stop_profile)", err, cfg.VLLMURL)
	}
	for i := range doc.Recent {
		rc := doc.Recent[i]
		c.recent = append(c.recent, &rc)
		c.byID[rc.ID] = &rc
	}
	if f := doc.InFlight; f != nil {
		f.Recovered = true
		f.State = StateRunning
		c.cur = f
		c.byID[f.ID] = f
		c.m.inFlight.Set(1)
	}
	return c, nil
}

func (c *Controller) triggerNames() []string {
	names := []string{TriggerOnDemand}
	if c.cfg.Every > 0 {
		names = append(names, TriggerSchedule)
	}
	for _, t := range c.cfg.Triggers {
		names = append(names, t.Name)
	}
	return names
}

// StatePath is the state file in use.
func (c *Controller) StatePath() string { return c.store.path }

// Run drives the schedule, the triggers and the captures until ctx ends;
// then it stops a capture in flight (with a fresh context bounded by
// Options.ShutdownTimeout) and returns nil. vLLM errors never end it.
func (c *Controller) Run(ctx context.Context) error {
	now := c.clk.Now()
	if c.cfg.Every > 0 {
		c.nextSchedule = now.Add(c.cfg.Every)
	}
	if len(c.triggers) > 0 {
		c.nextPoll = now
	}
	c.mu.Lock()
	rec := c.cur
	c.mu.Unlock()
	if rec != nil {
		c.log.Warn("a capture was in flight when the bridge last stopped (crash, kill -9 or lost stop); stopping vLLM's profiler before anything else",
			"capture_id", rec.ID, "trigger", rec.Trigger, "started", rec.Started)
		c.stopAt = now
		c.hardStop = now
		c.before = listTraceFiles(c.dirs) // vLLM writes the traces on the stop
	}
	c.log.Info("profiling control running", "vllm_url", c.cfg.VLLMURL, "every", c.cfg.Every, "duration", c.cfg.Duration,
		"steps", c.cfg.Steps, "max_duration", c.cfg.MaxDuration, "cooldown", c.cfg.Cooldown, "max_per_hour", c.cfg.MaxPerHour,
		"triggers", len(c.triggers), "state_file", c.store.path)
	for {
		c.step(ctx)
		if ctx.Err() != nil {
			c.shutdown(ctx)
			return nil
		}
		wait := c.nextWake().Sub(c.clk.Now())
		if wait <= 0 {
			continue
		}
		t := c.clk.NewTimer(wait)
		if c.idle != nil {
			c.idle()
		}
		select {
		case <-ctx.Done():
		case <-c.kick:
		case <-t.C():
		}
		t.Stop()
	}
}

// current returns the capture in progress (nil if none), the capture whose
// stop is still to be recovered (nil if none) and the state of the first
// (zero if none), read together under the lock.
func (c *Controller) current() (cur, rec *Capture, st State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, rec = c.cur, c.recovery
	if cur != nil {
		st = cur.State
	}
	return cur, rec, st
}

// nextWake is the earliest time something is due.
func (c *Controller) nextWake() time.Time {
	var due []time.Time
	if !c.nextSchedule.IsZero() {
		due = append(due, c.nextSchedule)
	}
	cur, rec, st := c.current()
	if len(c.triggers) > 0 && cur == nil {
		due = append(due, c.nextPoll)
	}
	switch st {
	case StatePending:
		due = append(due, c.clk.Now())
	case StateRunning:
		due = append(due, c.stopAt, c.hardStop)
		if !c.nextDirCheck.IsZero() {
			due = append(due, c.nextDirCheck)
		}
	case StateFlushing:
		due = append(due, c.flushUntil)
	}
	if rec != nil && cur == nil {
		due = append(due, c.recoveryAt)
	}
	if len(due) == 0 {
		return c.clk.Now().Add(24 * time.Hour)
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Before(due[j]) })
	return due[0]
}

// step does whatever is due now.
func (c *Controller) step(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	c.advance(ctx)
	now := c.clk.Now()
	c.mu.Lock()
	idle, rec := c.cur == nil, c.recovery
	c.mu.Unlock()
	if idle && rec != nil && !now.Before(c.recoveryAt) {
		c.retryRecovery(ctx)
	}
	if !c.nextSchedule.IsZero() && !now.Before(c.nextSchedule) {
		for !c.nextSchedule.After(now) {
			c.nextSchedule = c.nextSchedule.Add(c.cfg.Every)
		}
		if _, err := c.reserve(ctx, TriggerSchedule, TriggerSchedule, c.scheduledDuration(0), nil, nil); err != nil {
			c.log.Info("scheduled capture skipped", "err", err)
		}
		c.advance(ctx)
	}
	c.mu.Lock()
	idle = c.cur == nil
	c.mu.Unlock()
	if len(c.triggers) > 0 && idle && !now.Before(c.nextPoll) {
		c.nextPoll = now.Add(c.cfg.PollInterval)
		c.poll(ctx, now)
		c.advance(ctx)
	}
}

// scheduledDuration is the length of a scheduled or triggered capture.
func (c *Controller) scheduledDuration(override time.Duration) time.Duration {
	if c.cfg.Steps > 0 {
		return 0
	}
	if override > 0 {
		return override
	}
	return c.cfg.Duration
}

// poll scrapes vLLM's /metrics and evaluates the triggers.
func (c *Controller) poll(ctx context.Context, now time.Time) {
	s, err := c.api.Metrics(ctx, c.cfg.PollInterval)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.m.vllmErrors.WithLabelValues("metrics", kindLabel(err)).Inc()
		if msg := err.Error(); msg != c.scrapeErr {
			c.log.Warn("cannot scrape vLLM metrics; triggers wait (logged again only when the error changes)", "err", err)
			c.scrapeErr = msg
		}
		return
	}
	if c.scrapeErr != "" {
		c.log.Info("vLLM metrics reachable again", "url", c.cfg.metricsURL())
		c.scrapeErr = ""
	}
	for _, t := range c.triggers {
		o := t.observe(now, s)
		if o.Resets > 0 {
			c.m.resets.Add(float64(o.Resets))
			c.log.Info("vLLM histogram counters went down or appeared (vLLM restarted?); counting them from zero", "trigger", t.cfg.Name, "metric", t.cfg.Metric, "series", o.Resets)
		}
		if o.Err != nil {
			c.log.Debug("trigger not evaluated", "err", o.Err)
		}
		c.m.triggerValue.WithLabelValues(t.cfg.Name).Set(o.Value)
		if !o.Fire {
			continue
		}
		v, above := o.Value, t.cfg.Above
		reason := t.describe(o)
		if _, err := c.reserve(ctx, t.cfg.Name, reason, c.scheduledDuration(t.cfg.Duration), &v, &above); err != nil {
			c.log.Debug("trigger fired but the capture was refused", "trigger", t.cfg.Name, "value", v, "err", err)
			continue
		}
		c.log.Info("latency trigger fired", "trigger", t.cfg.Name, "reason", reason)
		return
	}
}

// Request starts an on-demand capture of d (0: Config.Duration, or Steps
// mode when Steps is set) and returns it at once, pending; d above
// MaxDuration is an error. A *RefusedError says which safety rule refused.
func (c *Controller) Request(ctx context.Context, d time.Duration) (Capture, error) {
	if d < 0 || d > c.cfg.MaxDuration {
		return Capture{}, fmt.Errorf("duration %s is outside 0..profiling.max_duration (%s)", d, c.cfg.MaxDuration)
	}
	if d == 0 {
		d = c.scheduledDuration(0)
	}
	cp, err := c.reserve(ctx, TriggerOnDemand, TriggerOnDemand, d, nil, nil)
	if err != nil {
		return Capture{}, err
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return cp, nil
}

// reserve applies the safety rules and makes a pending capture current.
func (c *Controller) reserve(ctx context.Context, trigger, reason string, d time.Duration, value, above *float64) (Capture, error) {
	refuse := func(why string, after time.Duration, err error) (Capture, error) {
		c.m.captures.WithLabelValues(trigger, "refused_"+why).Inc()
		return Capture{}, &RefusedError{Reason: why, RetryAfter: after, Err: err}
	}
	now := c.clk.Now()
	c.mu.Lock()
	switch {
	case c.closing:
		c.mu.Unlock()
		return refuse(RefusedStopping, 0, errors.New("the bridge is shutting down"))
	case c.cur != nil:
		id := c.cur.ID
		c.mu.Unlock()
		return refuse(RefusedBusy, 0, fmt.Errorf("capture %s is in progress; one capture at a time", id))
	}
	if !c.lastEnd.IsZero() {
		if left := c.lastEnd.Add(c.cfg.Cooldown).Sub(now); left > 0 {
			c.mu.Unlock()
			return refuse(RefusedCooldown, left, fmt.Errorf("profiling.cooldown is %s", c.cfg.Cooldown))
		}
	}
	c.pruneStarts(now)
	if len(c.starts) >= c.cfg.MaxPerHour {
		left := c.starts[0].Add(time.Hour).Sub(now)
		c.mu.Unlock()
		return refuse(RefusedRateLimit, left, fmt.Errorf("profiling.max_per_hour (%d) reached", c.cfg.MaxPerHour))
	}
	c.mu.Unlock()
	if c.pre != nil {
		if err := c.pre(ctx); err != nil {
			why := RefusedPrecondition
			if errors.Is(err, ErrDiskBudget) {
				why = RefusedDiskBudget
			}
			c.log.Warn("capture refused by the start precondition", "trigger", trigger, "err", err)
			return refuse(why, 0, err)
		}
	}
	cp := &Capture{ID: newID(now), Trigger: trigger, Reason: reason, Value: value, Threshold: above,
		State: StatePending, Duration: Duration(d), Requested: now}
	if d == 0 {
		cp.Steps = c.cfg.Steps
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil { // lost a race with another reservation
		c.m.captures.WithLabelValues(trigger, "refused_"+RefusedBusy).Inc()
		return Capture{}, &RefusedError{Reason: RefusedBusy, Err: fmt.Errorf("capture %s is in progress; one capture at a time", c.cur.ID)}
	}
	c.cur = cp
	c.byID[cp.ID] = cp
	return cp.clone(), nil
}

func (c *Controller) pruneStarts(now time.Time) {
	keep := c.starts[:0]
	for _, s := range c.starts {
		if now.Sub(s) < time.Hour {
			keep = append(keep, s)
		}
	}
	c.starts = keep
}

// advance moves the current capture on as far as it can go now.
func (c *Controller) advance(ctx context.Context) {
	for ctx.Err() == nil {
		c.mu.Lock()
		cur := c.cur
		var st State
		if cur != nil {
			st = cur.State
		}
		c.mu.Unlock()
		now := c.clk.Now()
		switch {
		case cur == nil:
			return
		case st == StatePending:
			c.start(ctx, cur)
		case st == StateRunning:
			if c.cfg.Steps > 0 && cur.Steps > 0 && !now.Before(c.nextDirCheck) && now.Before(c.stopAt) {
				if c.stepsDone() {
					c.stopAt = now
				} else {
					c.nextDirCheck = now.Add(c.cfg.PollInterval)
				}
			}
			if now.Before(c.stopAt) && now.Before(c.hardStop) {
				return
			}
			c.stop(ctx, cur, false)
		case st == StateFlushing:
			if now.Before(c.flushUntil) {
				return
			}
			c.finish(cur)
		default:
			return
		}
	}
}

// stepsDone reports, in Steps mode, whether vLLM has written the traces
// of this capture: a new trace file whose size did not change since the
// last check.
func (c *Controller) stepsDone() bool {
	now := listTraceFiles(c.dirs)
	done := false
	sizes := map[string]int64{}
	for p, sz := range now {
		if _, old := c.before[p]; old {
			continue
		}
		sizes[p] = sz
		if prev, ok := c.seenSizes[p]; ok && prev == sz && sz > 0 {
			done = true
		}
	}
	c.seenSizes = sizes
	return done
}

func (c *Controller) set(f func()) {
	c.mu.Lock()
	f()
	c.mu.Unlock()
}

// start sends /start_profile, after the stop of a capture a previous run
// could not stop, and after recording the capture in the state file.
func (c *Controller) start(ctx context.Context, cp *Capture) {
	log := c.log.With("capture_id", cp.ID, "trigger", cp.Trigger)
	c.mu.Lock()
	rec := c.recovery
	c.mu.Unlock()
	if rec != nil {
		if err := c.stopWithRetry(ctx, 1); err != nil {
			c.fail(cp, "start_failed", fmt.Errorf("capture %s, which vLLM may still be recording, could not be stopped first: %w", rec.ID, err))
			log.Warn("capture not started: the previous capture could not be stopped first", "previous", rec.ID, "err", err)
			return
		}
		c.recovered(rec)
	}
	c.before = listTraceFiles(c.dirs)
	c.seenSizes = nil
	now := c.clk.Now()
	c.set(func() { cp.State = StateStarting; cp.Started = now })
	if err := c.saveState(cp); err != nil {
		c.fail(cp, "start_failed", fmt.Errorf("not starting: the capture could not be recorded, so a crash could leave the profiler on: %w", err))
		log.Error("capture not started: state file not writable", "err", err)
		return
	}
	c.m.inFlight.Set(1)
	err := c.api.StartProfile(ctx, c.cfg.StartTimeout)
	if err != nil {
		c.m.vllmErrors.WithLabelValues("start_profile", kindLabel(err)).Inc()
		mayHaveStarted := errors.Is(err, ErrTimeout) || errors.Is(err, ErrServer)
		if mayHaveStarted {
			// some ranks may be recording: make sure they stop (with a
			// fresh context if this is the shutdown)
			if serr := c.stopWithRetry(ctx, c.cfg.StopAttempts); serr != nil {
				c.set(func() { c.recovery = cp })
				c.recoveryAt = c.clk.Now().Add(c.cfg.StopBackoff)
				log.Error("start failed and the stop that followed failed too; will stop again before the next start", "err", serr)
			} else {
				c.clearInFlight()
			}
		} else {
			c.clearInFlight()
		}
		log.Warn("vLLM did not start the profiler", "err", err)
		c.fail(cp, "start_failed", err)
		return
	}
	now = c.clk.Now()
	d := time.Duration(cp.Duration)
	c.hardStop = now.Add(c.cfg.MaxDuration)
	if d > 0 {
		c.stopAt = now.Add(d)
		c.nextDirCheck = time.Time{}
	} else {
		c.stopAt = c.hardStop
		c.nextDirCheck = now.Add(c.cfg.PollInterval)
	}
	c.set(func() {
		cp.State = StateRunning
		cp.Started = now
		c.starts = append(c.starts, now)
	})
	for _, t := range c.triggers {
		t.reset()
	}
	log.Info("profiler capture started", "reason", cp.Reason, "duration", d, "steps", cp.Steps, "max_duration", c.cfg.MaxDuration)
}

// stop sends /stop_profile (with retries) and starts the file grace.
func (c *Controller) stop(ctx context.Context, cp *Capture, shuttingDown bool) {
	log := c.log.With("capture_id", cp.ID, "trigger", cp.Trigger)
	c.set(func() { cp.State = StateStopping })
	err := c.stopWithRetry(ctx, c.cfg.StopAttempts)
	now := c.clk.Now()
	c.set(func() { cp.Stopped = now; cp.State = StateFlushing })
	c.flushUntil = now.Add(c.cfg.FileGrace)
	if err != nil {
		c.set(func() {
			cp.Error = fmt.Sprintf("stop failed: %v; the bridge stops again before the next start", err)
			c.recovery = cp
		})
		c.recoveryAt = now.Add(c.cfg.StopBackoff)
		log.Error("vLLM's profiler could not be stopped; will retry before any other start", "err", err)
		return
	}
	c.clearInFlight()
	log.Info("profiler capture stopped", "ran", now.Sub(cp.Started).Round(time.Millisecond), "shutdown", shuttingDown)
}

// stopWithRetry sends /stop_profile up to attempts times, with backoff,
// while the failure may be transient. With a cancelled ctx (shutdown) it
// uses a fresh context bounded by Options.ShutdownTimeout for one attempt.
func (c *Controller) stopWithRetry(ctx context.Context, attempts int) error {
	if ctx.Err() != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownTimeout)
		defer cancel()
		ctx, attempts = sctx, 1
	}
	wait := c.cfg.StopBackoff
	var err error
	for i := 1; i <= attempts; i++ {
		err = c.api.StopProfile(ctx, c.cfg.StopTimeout)
		if err == nil {
			return nil
		}
		c.m.vllmErrors.WithLabelValues("stop_profile", kindLabel(err)).Inc()
		if !retryable(err) || i == attempts {
			break
		}
		c.log.Warn("vLLM stop_profile failed; retrying", "attempt", i, "of", attempts, "in", wait, "err", err)
		if c.sleep(ctx, wait) != nil {
			break
		}
		wait = min(2*wait, 30*time.Second)
	}
	return err
}

// retryRecovery tries again to stop a capture whose stop failed.
func (c *Controller) retryRecovery(ctx context.Context) {
	c.mu.Lock()
	rec := c.recovery
	c.mu.Unlock()
	if err := c.stopWithRetry(ctx, 1); err != nil {
		c.recoveryN++
		wait := min(c.cfg.StopBackoff<<min(c.recoveryN, 10), 5*time.Minute)
		c.recoveryAt = c.clk.Now().Add(wait)
		c.log.Warn("vLLM's profiler still not confirmed stopped", "capture_id", rec.ID, "next_try_in", wait, "err", err)
		return
	}
	c.recovered(rec)
	c.log.Info("vLLM's profiler confirmed stopped", "capture_id", rec.ID)
}

// recovered records that the stop of rec finally succeeded.
func (c *Controller) recovered(rec *Capture) {
	c.set(func() { c.recovery = nil })
	c.recoveryN = 0
	c.clearInFlight()
}

// clearInFlight marks the profiler off in the state file and the gauge.
func (c *Controller) clearInFlight() {
	c.m.inFlight.Set(0)
	if err := c.saveState(nil); err != nil {
		c.log.Error("cannot clear the capture in flight from the state file; the next run will stop vLLM's profiler once more", "err", err)
	}
}

// fail ends a capture that did not run.
func (c *Controller) fail(cp *Capture, outcome string, err error) {
	now := c.clk.Now()
	c.set(func() {
		cp.State = StateFailed
		cp.Error = err.Error()
		cp.Finished = now
		c.lastEnd = now // failures cool down too: no hammering a broken vLLM
		c.endLocked(cp)
	})
	c.m.captures.WithLabelValues(cp.Trigger, outcome).Inc()
	if err := c.saveState(c.inFlightRecord()); err != nil {
		c.log.Error("cannot write the capture state file", "err", err)
	}
}

// finish lists the capture's files and ends it.
func (c *Controller) finish(cp *Capture) {
	after := listTraceFiles(c.dirs)
	var files []string
	for p := range after {
		if _, old := c.before[p]; !old {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	now := c.clk.Now()
	outcome := "ok"
	c.set(func() {
		for _, f := range files {
			if !contains(cp.Files, f) {
				cp.Files = append(cp.Files, f)
			}
		}
		cp.Finished = now
		switch {
		case c.recovery == cp:
			cp.State, outcome = StateFailed, "stop_failed"
		case len(cp.TraceIDs) > 0:
			cp.State = StateExported
		default:
			cp.State = StateDone
		}
		if cp.Recovered && outcome == "ok" {
			outcome = "recovered"
			if cp.Error == "" {
				cp.Error = "the bridge stopped during this capture; this run stopped vLLM's profiler"
			}
		}
		if c.closing && outcome == "ok" && cp.Stopped.Sub(cp.Started) < time.Duration(cp.Duration) {
			outcome = "aborted"
		}
		c.lastEnd = cp.Stopped
		c.endLocked(cp)
	})
	c.m.captures.WithLabelValues(cp.Trigger, outcome).Inc()
	for _, t := range c.triggers {
		t.reset() // the capture's own overhead must not fire the next one
	}
	if err := c.saveState(c.inFlightRecord()); err != nil {
		c.log.Error("cannot write the capture state file", "err", err)
	}
	c.log.Info("profiler capture finished", "capture_id", cp.ID, "trigger", cp.Trigger, "outcome", outcome, "files", len(files))
}

// endLocked moves cp from current to recent.
func (c *Controller) endLocked(cp *Capture) {
	if c.cur == cp {
		c.cur = nil
	}
	c.recent = append(c.recent, cp)
	if len(c.recent) > maxRecent {
		old := c.recent[0]
		c.recent = c.recent[1:]
		if c.byID[old.ID] == old {
			delete(c.byID, old.ID)
		}
	}
}

// inFlightRecord is what the state file must say is in flight.
func (c *Controller) inFlightRecord() *Capture {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recovery != nil {
		return c.recovery
	}
	return nil
}

// saveState writes the state file: inFlight (nil: profiler off) and the
// recent captures.
func (c *Controller) saveState(inFlight *Capture) error {
	c.mu.Lock()
	doc := stateDoc{Recent: make([]Capture, 0, len(c.recent))}
	if inFlight != nil {
		f := inFlight.clone()
		doc.InFlight = &f
	}
	for _, r := range c.recent {
		doc.Recent = append(doc.Recent, r.clone())
	}
	c.mu.Unlock()
	return c.store.save(doc)
}

// shutdown stops what is running; ctx is already cancelled.
func (c *Controller) shutdown(ctx context.Context) {
	c.set(func() { c.closing = true })
	cur, rec, st := c.current()
	switch st {
	case StatePending:
		c.fail(cur, "aborted", errors.New("the bridge shut down before the capture started"))
	case StateStarting, StateRunning, StateStopping:
		c.log.Info("shutting down: stopping vLLM's profiler", "capture_id", cur.ID)
		c.stop(ctx, cur, true)
		c.finish(cur)
	case StateFlushing:
		c.finish(cur)
	}
	if rec != nil && rec != cur {
		if err := c.stopWithRetry(ctx, 1); err == nil {
			c.recovered(rec)
		}
	}
}

// Get returns the capture with this id (the current one and the last
// maxRecent are kept, also across restarts).
func (c *Controller) Get(id string) (Capture, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.byID[id]
	if !ok {
		return Capture{}, false
	}
	return cp.clone(), true
}

// List returns the current and recent captures, newest first.
func (c *Controller) List() []Capture {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Capture
	if c.cur != nil {
		out = append(out, c.cur.clone())
	}
	for i := len(c.recent) - 1; i >= 0; i-- {
		out = append(out, c.recent[i].clone())
	}
	return out
}

// CaptureForFile says which capture produced the trace file at path: one
// whose Files lists it, or else the one whose window (start to stop plus
// FileGrace, open while it runs) holds the write time in the file's name
// (PyTorch's time.time_ns()) or, without one, its modification time.
func (c *Controller) CaptureForFile(path string) (Capture, bool) {
	base := filepath.Base(path)
	stamp, ok := fileStamp(base)
	if !ok {
		if fi, err := os.Stat(path); err == nil {
			stamp = fi.ModTime()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cands := make([]*Capture, 0, len(c.recent)+1)
	if c.cur != nil {
		cands = append(cands, c.cur)
	}
	for i := len(c.recent) - 1; i >= 0; i-- {
		cands = append(cands, c.recent[i])
	}
	for _, cp := range cands {
		for _, f := range cp.Files {
			if f == path || filepath.Base(f) == base {
				return cp.clone(), true
			}
		}
	}
	if stamp.IsZero() {
		return Capture{}, false
	}
	for _, cp := range cands {
		if cp.Started.IsZero() || stamp.Before(cp.Started) {
			continue
		}
		if cp.Stopped.IsZero() && !cp.ended() {
			return cp.clone(), true
		}
		if !cp.Stopped.IsZero() && !stamp.After(cp.Stopped.Add(c.cfg.FileGrace)) {
			return cp.clone(), true
		}
	}
	return Capture{}, false
}

// ResourceAttributes are the capture attributes for the spans of the
// trace file at path (vllm.profile.capture_id, vllm.profile.trigger, …);
// nil when no capture of this bridge produced it.
func (c *Controller) ResourceAttributes(path string) map[string]string {
	cp, ok := c.CaptureForFile(path)
	if !ok {
		return nil
	}
	return cp.Attributes()
}

// ResourceSpanAttrs is ResourceAttributes as span attributes, with the
// trigger's value and threshold as doubles: what the pipeline appends to
// converter.Options.Resource.
func (c *Controller) ResourceSpanAttrs(path string) []span.Attr {
	cp, ok := c.CaptureForFile(path)
	if !ok {
		return nil
	}
	return cp.SpanAttributes()
}

// AttachTraceIDs records the trace ids the pipeline exported from the file
// at path, on the capture that produced it; GET /v1/profile/{id} shows
// them. It returns the capture id, or false when no capture matches.
func (c *Controller) AttachTraceIDs(path string, traceIDs []string) (string, bool) {
	cp, ok := c.CaptureForFile(path)
	if !ok {
		return "", false
	}
	c.mu.Lock()
	live, ok := c.byID[cp.ID]
	if !ok {
		c.mu.Unlock()
		return "", false
	}
	if live.TraceIDs == nil {
		live.TraceIDs = map[string][]string{}
	}
	ids := live.TraceIDs[path]
	for _, id := range traceIDs {
		if len(ids) < maxTraceIDsPerFile && !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	live.TraceIDs[path] = ids
	if !contains(live.Files, path) {
		live.Files = append(live.Files, path)
	}
	persist := false
	if live.State == StateDone {
		live.State = StateExported
		persist = true
	}
	c.mu.Unlock()
	if persist {
		if err := c.saveState(c.inFlightRecord()); err != nil {
			c.log.Error("cannot write the capture state file", "err", err)
		}
	}
	return cp.ID, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
