package converter

// linkGPU puts GPU work under the runtime/driver call with the same CUDA
// correlation id, in that call's trace; a GPU activity whose launch is not
// in the file goes under the root of the step its start falls in.
func (b *builder) linkGPU() {
	s := &b.s
	n := b.p.recs.len()
	launches := make(map[int64]int32)
	annots := make(map[int64]int32) // user_annotation by External id
	for i := int32(0); int(i) < n; i++ {
		r := b.rec(i)
		if r.kind == kindLaunch && r.flags&flagCorr != 0 {
			if _, dup := launches[r.link]; !dup {
				launches[r.link] = i
			}
		}
		if r.kind == kindUserAnnot && r.flags&flagExt != 0 {
			if _, dup := annots[r.link]; !dup {
				annots[r.link] = i
			}
		}
	}
	for i := int32(0); int(i) < n; i++ {
		r := b.rec(i)
		if !r.kind.gpu() {
			continue
		}
		if r.kind == kindGPUAnnot {
			// The GPU mirror of a user_annotation: same trace as the CPU
			// annotation with its External id; else by time (Kineto shifts
			// it 1 ns earlier).
			if a, ok := annots[r.link]; ok && r.flags&flagExt != 0 && s.traceOf[a] >= 0 {
				s.traceOf[i], s.parentOf[i] = s.traceOf[a], -1
			} else {
				s.traceOf[i], s.parentOf[i] = s.traceAt(r.ts+1), -1
			}
			continue
		}
		if l, ok := launches[r.link]; ok && r.flags&flagCorr != 0 {
			s.traceOf[i], s.parentOf[i] = s.traceOf[l], l
			continue
		}
		b.st.OrphanGPU++
		s.traceOf[i], s.parentOf[i] = s.traceAt(r.ts), -1
	}
}
