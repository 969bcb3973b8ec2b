package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// osEnv returns the real process environment: stdio, the environment, and
// a context that ends on the first SIGINT or SIGTERM; after it, signals
// take their default action again, so a second one ends the process at once.
func osEnv() (*env, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.LookupEnv,
		ctx:    ctx,
		onStop: stop,
	}
	if fd := int(os.Stdout.Fd()); term.IsTerminal(fd) {
		e.stdoutTerminal = true
		if w, _, err := term.GetSize(fd); err == nil {
			e.termWidth = w
		}
		e.termWidthFunc = func() int {
			w, _, _ := term.GetSize(fd)
			return w
		}
	}
	e.stdinTerminal = term.IsTerminal(int(os.Stdin.Fd()))
	go func() {
		<-ctx.Done()
		stop() // the next signal kills the process
	}()
	return e, stop
}
