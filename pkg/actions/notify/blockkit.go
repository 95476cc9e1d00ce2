// Package notify tells a Slack channel how a release went: it builds a Block Kit message from
// the pipeline's outcome (released, blocked, dry run), posts it to an incoming webhook and
// explains Slack's refusals. The webhook URL is the secret: it is read from a file and never
// printed, not even in errors, which name only its host.
//
// A notification is a courtesy, not a gate: Run reports a failed delivery as a warning and
// passes, so that a released commit never shows up as a failed pipeline because Slack was down.
package notify

import (
	"fmt"
	"unicode/utf16"
)

// Slack's documented limits for messages. Messages built here stay well below them (see the
// bounds in message.go); Validate checks them so that a bug cannot make Slack reject a release
// notification with invalid_blocks.
const (
	MaxBlocks        = 50   // blocks in one message
	MaxTextChars     = 3000 // text of a section or context text object
	MaxHeaderChars   = 150  // plain_text of a header block
	MaxFields        = 10   // fields of a section
	MaxFieldChars    = 2000 // text of one section field
	MaxContextElems  = 10   // elements of a context block
	MaxFallbackChars = 3000 // our own bound for the top-level text (Slack truncates at 40,000)
)

// Message is the JSON body posted to an incoming webhook. Text is the fallback shown in
// notifications and by clients that cannot render blocks.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is one layout block. One struct covers the four types used (header, section, context,
// divider); the unused fields are omitted from the JSON.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`     // header (plain_text), section (mrkdwn)
	Fields   []Text `json:"fields,omitempty"`   // section
	Elements []Text `json:"elements,omitempty"` // context
}

// Text is a composition text object.
type Text struct {
	Type string `json:"type"` // "plain_text" or "mrkdwn"
	Text string `json:"text"`
	// Emoji lets plain_text render :rocket: style codes.
	Emoji bool `json:"emoji,omitempty"`
	// Verbatim stops Slack from turning bare URLs, #channels and @mentions in mrkdwn into links:
	// the text holds values from the pipeline, and only links built here may be links.
	Verbatim bool `json:"verbatim,omitempty"`
}

// Block types.
const (
	TypeHeader  = "header"
	TypeSection = "section"
	TypeContext = "context"
	TypeDivider = "divider"
)

func header(s string) Block {
	return Block{Type: TypeHeader, Text: &Text{Type: "plain_text", Text: s, Emoji: true}}
}

func mrkdwn(s string) Text { return Text{Type: "mrkdwn", Text: s, Verbatim: true} }

func section(s string) Block { t := mrkdwn(s); return Block{Type: TypeSection, Text: &t} }

// Length is how Slack's limits are counted here: UTF-16 code units, which is never less than
// the number of characters, so a text within the bound by this count is within Slack's.
func Length(s string) int { return len(utf16.Encode([]rune(s))) }

// Validate checks m against Slack's limits for messages.
func (m Message) Validate() error {
	if m.Text == "" {
		return fmt.Errorf("message has no fallback text")
	}
	if n := Length(m.Text); n > MaxFallbackChars {
		return fmt.Errorf("fallback text has %d characters, limit %d", n, MaxFallbackChars)
	}
	if len(m.Blocks) > MaxBlocks {
		return fmt.Errorf("message has %d blocks, limit %d", len(m.Blocks), MaxBlocks)
	}
	for i, b := range m.Blocks {
		if err := b.validate(); err != nil {
			return fmt.Errorf("block %d (%s): %w", i, b.Type, err)
		}
	}
	return nil
}

func (b Block) validate() error {
	switch b.Type {
	case TypeHeader:
		if b.Text == nil || b.Text.Type != "plain_text" {
			return fmt.Errorf("a header needs plain_text")
		}
		return checkText(*b.Text, MaxHeaderChars)
	case TypeSection:
		if b.Text == nil && len(b.Fields) == 0 {
			return fmt.Errorf("a section needs text or fields")
		}
		if b.Text != nil {
			if err := checkText(*b.Text, MaxTextChars); err != nil {
				return err
			}
		}
		if len(b.Fields) > MaxFields {
			return fmt.Errorf("%d fields, limit %d", len(b.Fields), MaxFields)
		}
		for _, f := range b.Fields {
			if err := checkText(f, MaxFieldChars); err != nil {
				return fmt.Errorf("field: %w", err)
			}
		}
	case TypeContext:
		if len(b.Elements) == 0 || len(b.Elements) > MaxContextElems {
			return fmt.Errorf("%d elements, want 1 to %d", len(b.Elements), MaxContextElems)
		}
		for _, e := range b.Elements {
			if err := checkText(e, MaxTextChars); err != nil {
				return fmt.Errorf("element: %w", err)
			}
		}
	case TypeDivider:
	default:
		return fmt.Errorf("unknown block type")
	}
	return nil
}

func checkText(t Text, limit int) error {
	if t.Type != "plain_text" && t.Type != "mrkdwn" {
		return fmt.Errorf("text type %q", t.Type)
	}
	if t.Text == "" {
		return fmt.Errorf("empty text")
	}
	if n := Length(t.Text); n > limit {
		return fmt.Errorf("text has %d characters, limit %d", n, limit)
	}
	return nil
}
