package debugpanel

// SetRecording sets the process-wide flag NewContext raises, so that
// benchmarks can measure a process that never recorded.
func SetRecording(on bool) { recording.Store(on) }
