// Package logtest holds a log sink for tests that read what was logged.
// It imports the standard library only, and only _test.go files import
// it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a log sink safe for concurrent writers (an slog handler's
// output, written from many goroutines). The zero value is ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
