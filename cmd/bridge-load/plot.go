package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// writePlot writes an SVG timeline of one answer: the characters the
// backend had sent (a step line) and the characters visible on the
// platform (a step line, one mark per request) over time.
func writePlot(path string, r *replyRec, o *Options) error {
	if len(r.depart) == 0 {
		return fmt.Errorf("conversation %d.%d has no data", r.conv, r.round)
	}
	t0 := r.depart[0]
	end := r.lastByte
	if r.complete && r.finalAt.After(end) {
		end = r.finalAt
	}
	for _, q := range r.reqs {
		if q.At.After(end) {
			end = q.At
		}
	}
	span := end.Sub(t0).Seconds() * 1.05
	if span <= 0 {
		span = 1
	}
	total := float64(len(r.answer))
	const (
		W, H                  = 900.0, 420.0
		left, right, top, bot = 70.0, 20.0, 40.0, 50.0
	)
	x := func(t time.Time) float64 { return left + (W-left-right)*t.Sub(t0).Seconds()/span }
	y := func(c float64) float64 { return H - bot - (H-top-bot)*c/total }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	mode := "private chat"
	if o.Group {
		mode = "group"
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Conversation %d.%d (%s, drafts=%t): %d chars at %.0f chunks/s, edit interval %s</text>`+"\n",
		left, r.conv, r.round, mode, o.Drafts, len(r.answer), o.ChunksPerSec, o.editInterval())
	// axes and grid
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, H-bot, W-right, H-bot)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top, left, H-bot)
	step := niceStep(span)
	for s := 0.0; s <= span; s += step {
		px := left + (W-left-right)*s/span
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle">%g s</text>`+"\n", px, top, px, H-bot, px, H-bot+16, s)
	}
	for i := 0; i <= 4; i++ {
		c := total * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left, y(c), W-right, y(c), left-6, y(c)+4, c)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">time since the first chunk</text>`+"\n", (W+left)/2, H-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">characters</text>`+"\n", (H+top-bot)/2)

	// backend: chunks sent
	var pts []string
	prevY := y(0)
	for j, t := range r.depart {
		px := x(t)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, prevY))
		prevY = y(float64(r.cum[j]))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, prevY))
	}
	pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(end), prevY))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(pts, " "))

	// platform: visible text
	pts = pts[:0]
	prevY = y(0)
	pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(t0), prevY))
	var marks strings.Builder
	for _, q := range r.reqs {
		c := float64(q.Chars)
		if q.Final {
			c = total
		}
		if c < 0 {
			continue
		}
		px := x(q.At)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, prevY))
		prevY = y(c)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, prevY))
		color := "#d62728"
		if q.Method == "sendMessageDraft" {
			color = "#2ca02c"
		}
		if q.Final {
			color = "black"
		}
		fmt.Fprintf(&marks, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s at %.3f s: %.0f chars</title></circle>`+"\n", px, prevY, color, q.Method, q.At.Sub(t0).Seconds(), c)
	}
	pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(end), prevY))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#d62728" stroke-width="2" points="%s"/>`+"\n", strings.Join(pts, " "))
	b.WriteString(marks.String())
	// legend
	lx, ly := left+10, top+10
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#1f77b4" stroke-width="2"/><text x="%.0f" y="%.0f">chunks sent by the backend</text>`+"\n", lx, ly, lx+20, ly, lx+26, ly+4)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#d62728" stroke-width="2"/><text x="%.0f" y="%.0f">text visible on the platform (● edit/send, ● draft, ● final)</text>`+"\n", lx, ly+16, lx+20, ly+16, lx+26, ly+20)
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// niceStep picks a grid step giving about 5-10 lines over span seconds.
func niceStep(span float64) float64 {
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600} {
		if span/s <= 10 {
			return s
		}
	}
	return 1200
}
