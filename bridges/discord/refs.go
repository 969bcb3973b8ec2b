package discord

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chat-bridge/chat-bridge/bridges"
)

var _ bridges.RefCodec = (*Adapter)(nil)

// storedRef is the inbox's encoding of the adapter's refs (RefCodec): a
// gateway message's channel, guild and wanted thread (msgRef), a slash
// command's interaction (interactionRef: the token the answer edits the
// deferred response with, and when it arrived, as the token is valid 15
// minutes), or a message of an interaction (sentRef). The token is a
// short-lived credential kept in the store like the message itself.
type storedRef struct {
	Kind string `json:"kind"` // "message", "interaction" or "sent"

	Channel string        `json:"channel,omitempty"`
	Guild   string        `json:"guild,omitempty"`
	Thread  *storedThread `json:"thread,omitempty"`
	Roles   []string      `json:"roles,omitempty"`
	// RolesKnown tells an empty role list from none sent.
	RolesKnown bool        `json:"roles_known,omitempty"`
	InThread   bool        `json:"in_thread,omitempty"`
	ReplyTo    *refMessage `json:"reply_to,omitempty"`

	Interaction *storedInteraction `json:"interaction,omitempty"`
	Original    bool               `json:"original,omitempty"`
}

type storedThread struct {
	Name    string `json:"name"`
	ID      string `json:"id,omitempty"`
	Started bool   `json:"started,omitempty"`
}

type storedInteraction struct {
	ID      string    `json:"id"`
	AppID   string    `json:"app_id"`
	Token   string    `json:"token"`
	Channel string    `json:"channel,omitempty"`
	Guild   string    `json:"guild,omitempty"`
	Locale  string    `json:"locale,omitempty"`
	Created time.Time `json:"created"`
	Gone    bool      `json:"gone,omitempty"`
}

// EncodeRef implements bridges.RefCodec.
func (a *Adapter) EncodeRef(ref any) ([]byte, error) {
	var v storedRef
	switch r := ref.(type) {
	case *msgRef:
		v = storedRef{Kind: "message", Channel: r.channelID, Guild: r.guildID,
			Roles: r.roles, RolesKnown: r.roles != nil, InThread: r.inThread, ReplyTo: r.replyTo}
		if t := r.thread; t != nil {
			t.mu.Lock()
			v.Thread = &storedThread{Name: t.name, ID: t.id, Started: t.started}
			t.mu.Unlock()
		}
	case *interactionRef:
		v = storedRef{Kind: "interaction", Interaction: storeInteraction(r)}
	case *sentRef:
		if r.ir == nil {
			return nil, errors.New("a message ref without its interaction")
		}
		v = storedRef{Kind: "sent", Interaction: storeInteraction(r.ir), Original: r.original}
	default:
		return nil, fmt.Errorf("not a discord ref: %T", ref)
	}
	return json.Marshal(v)
}

func storeInteraction(ir *interactionRef) *storedInteraction {
	it := ir.it
	if it == nil {
		it = &discordgo.Interaction{}
	}
	return &storedInteraction{ID: it.ID, AppID: it.AppID, Token: it.Token, Channel: it.ChannelID,
		Guild: it.GuildID, Locale: string(it.Locale), Created: ir.created, Gone: ir.gone.Load()}
}

// DecodeRef implements bridges.RefCodec.
func (a *Adapter) DecodeRef(data []byte) (any, error) {
	var v storedRef
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	switch v.Kind {
	case "message":
		r := &msgRef{channelID: v.Channel, guildID: v.Guild, inThread: v.InThread, replyTo: v.ReplyTo}
		if v.RolesKnown {
			r.roles = append([]string{}, v.Roles...)
		}
		if t := v.Thread; t != nil {
			r.thread = &threadPlan{name: t.Name, id: t.ID, started: t.Started}
		}
		return r, nil
	case "interaction", "sent":
		si := v.Interaction
		if si == nil || si.Token == "" || si.AppID == "" {
			return nil, errors.New("an interaction ref without its token")
		}
		ir := &interactionRef{created: si.Created, it: &discordgo.Interaction{
			ID: si.ID, AppID: si.AppID, Token: si.Token, ChannelID: si.Channel, GuildID: si.Guild,
			Locale: discordgo.Locale(si.Locale), Type: discordgo.InteractionApplicationCommand,
		}}
		ir.gone.Store(si.Gone)
		if v.Kind == "interaction" {
			return ir, nil
		}
		return &sentRef{ir: ir, original: v.Original}, nil
	}
	return nil, fmt.Errorf("unknown discord ref kind %q", v.Kind)
}
