package converter

// partition scans the record store once, in file order: GPU work goes
// straight to its trace's bucket (under its launch, found by correlation
// id in the launch table), the records of the per-thread walk (CPU spans,
// step annotations, Python frames, instants) to the bucket of the window
// their start falls in, kernel/memcpy/memset intervals to the window of
// their start (for the file's GPU busy time). fwdbwd flow ends are bound
// on the way.
func (b *builder) partition() error {
	s := &b.s
	fb := b.newFlowBinder()
	ok := b.p.recs.Scan(b.dropRecords, func(i int32, r *record) {
		e := entry{rec: *r, idx: i, trace: -1, parent: -1, py: -1}
		switch {
		case r.kind.gpu():
			b.routeGPU(&e)
			return
		case r.kind == kindUserAnnot && s.isStep(i):
			e.rec.flags |= flagStep
			e.trace = s.stepOfRec[i]
		case b.exportedCPU(r.kind):
			e.trace = b.cpuTrace(r.ts, r.end())
		case r.kind == kindPython, r.kind == kindInstant:
		default:
			return
		}
		if e.trace >= 0 {
			fb.see(&e)
		}
		s.win.Add(s.window(r.ts), e)
	})
	if !ok {
		return &Error{Offset: -1, Reason: "reading records from Options.Spill", Err: b.sc.Err()}
	}
	fb.finish()
	return nil
}

func (s *structure) isStep(i int32) bool {
	_, ok := s.stepOfRec[i]
	return ok
}
