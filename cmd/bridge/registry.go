package main

import (
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/chat-bridge/chat-bridge/backend"
	"github.com/chat-bridge/chat-bridge/backend/chatbotiq"
	"github.com/chat-bridge/chat-bridge/backend/chatofai"
	"github.com/chat-bridge/chat-bridge/backend/demo"
	"github.com/chat-bridge/chat-bridge/backend/newoaks"
	"github.com/chat-bridge/chat-bridge/backend/openai"
	"github.com/chat-bridge/chat-bridge/bridges"
	"github.com/chat-bridge/chat-bridge/bridges/discord"
	"github.com/chat-bridge/chat-bridge/bridges/slack"
	"github.com/chat-bridge/chat-bridge/bridges/telegram"
	"github.com/chat-bridge/chat-bridge/bridges/web"
)

// backendKind decodes a [backends.NAME] table into the kind's own Config
// and returns its constructor.
type backendKind func(md toml.MetaData, p toml.Primitive) (func(backend.Deps) (backend.Backend, error), error)

// kindOf registers a backend package by its New function.
func kindOf[C any, B backend.Backend](newFn func(C, backend.Deps) (B, error)) backendKind {
	return func(md toml.MetaData, p toml.Primitive) (func(backend.Deps) (backend.Backend, error), error) {
		var cfg C
		if err := md.PrimitiveDecode(p, &cfg); err != nil {
			return nil, err
		}
		return func(d backend.Deps) (backend.Backend, error) {
			b, err := newFn(cfg, d)
			if err != nil {
				return nil, err
			}
			return b, nil
		}, nil
	}
}

// backendKinds maps `kind` to its package.
var backendKinds = map[string]backendKind{
	"demo":      kindOf(demo.New),
	"chatbotiq": kindOf(chatbotiq.New),
	"openai":    kindOf(openai.New),
	"chatofai":  kindOf(chatofai.New),
	"newoaks":   kindOf(newoaks.New),
}

func backendKindNames() []string {
	names := sortedKeys(backendKinds)
	slices.Sort(names)
	return names
}

// platformKind decodes a platform instance table into the adapter's Config.
type platformKind struct {
	name   string
	decode func(md toml.MetaData, p toml.Primitive, name string) (func(bridges.Deps) (bridges.Platform, error), error)
}

// platformOf registers an adapter package by its New function; setName
// puts the instance name into its Config.
func platformOf[C any, P bridges.Platform](name string, newFn func(C, bridges.Deps) (P, error), setName func(*C, string)) platformKind {
	return platformKind{name: name, decode: func(md toml.MetaData, p toml.Primitive, inst string) (func(bridges.Deps) (bridges.Platform, error), error) {
		var cfg C
		if err := md.PrimitiveDecode(p, &cfg); err != nil {
			return nil, err
		}
		setName(&cfg, inst)
		return func(d bridges.Deps) (bridges.Platform, error) {
			a, err := newFn(cfg, d)
			if err != nil {
				return nil, err
			}
			return a, nil
		}, nil
	}}
}

// platformKinds are the platforms, in the order instances are started.
var platformKinds = []platformKind{
	platformOf("telegram", telegram.New, func(c *telegram.Config, n string) { c.Name = n }),
	platformOf("discord", discord.New, func(c *discord.Config, n string) { c.Name = n }),
	platformOf("slack", slack.New, func(c *slack.Config, n string) { c.Name = n }),
	platformOf("web", web.New, func(c *web.Config, n string) { c.Name = n }),
}
