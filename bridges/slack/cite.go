package slack

import (
	"regexp"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/chat-bridge/chat-bridge/bridges"
)

// Citations: the core appends an answer's sources to its final text as
// a Markdown footer, "\n\n**Sources:** [Title](url)" for one source or
// "\n\n**Sources:**\n1. [Title](url)\n2. Title" for several (the label
// in the user's language). On Slack the final message shows them in a
// context block (small print) under a section with the answer; `text`
// keeps the whole answer, sources included, as Slack's fallback
// (notifications, clients without blocks).

// sourcesFooter matches the core's footer at the very end of a text.
var sourcesFooter = regexp.MustCompile(`\n\n\*\*[^*\n]{1,40}\*\*(?: [^\n]+|(?:\n[0-9]{1,2}\. [^\n]+)+)$`)

// Block Kit limits: a section's text and a context element's text.
const (
	maxSectionText = 3000
	maxContextText = 2000
)

// splitSources cuts the core's sources footer off md; ok is false when
// there is none.
func splitSources(md string) (main, sources string, ok bool) {
	loc := sourcesFooter.FindStringIndex(md)
	if loc == nil || strings.TrimSpace(md[:loc[0]]) == "" {
		return md, "", false
	}
	return md[:loc[0]], md[loc[0]+2:], true
}

// citeBlocks returns the blocks of a final text with sources (a section
// with the answer, a context block with the sources) and the answer
// without them; ok is false for any other text, or when a part would
// exceed Block Kit's limits (the text alone then shows everything).
func citeBlocks(out bridges.Out) (section, small slackapi.Block, main string, ok bool) {
	if !out.Final || out.Plain {
		return nil, nil, "", false
	}
	main, sources, ok := splitSources(out.Text)
	if !ok {
		return nil, nil, "", false
	}
	body, foot := toMrkdwn(main), toMrkdwn(sources)
	if strings.TrimSpace(body) == "" || strings.TrimSpace(foot) == "" ||
		utf8.RuneCountInString(body) > maxSectionText || utf8.RuneCountInString(foot) > maxContextText {
		return nil, nil, "", false
	}
	section = slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, body, false, false), nil, nil)
	small = slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType, foot, false, false))
	return section, small, main, true
}
