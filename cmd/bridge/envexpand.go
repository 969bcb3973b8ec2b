package main

import (
	"fmt"
	"strings"
)

// unsetVar is a ${VAR} whose variable is not set, and where it stands.
type unsetVar struct {
	Name string
	Line int
}

func (u unsetVar) Error() string {
	return fmt.Sprintf("line %d: environment variable %s is not set", u.Line, u.Name)
}

// expandEnv replaces ${VAR} inside the TOML file's string values with the
// variable's value, leaving comments and keys alone and keeping every line
// where it was (so parse errors still name the right line). A variable that
// is not set expands to "" and is reported in unset, so that the caller can
// refuse it where the value is used; a value that cannot be written inside
// that kind of string is an error naming it.
func expandEnv(src string, getenv func(string) (string, bool)) (string, []unsetVar, error) {
	var unset []unsetVar
	var out strings.Builder
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			out.WriteByte(c)
			i++
		case c == '#':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			out.WriteString(src[i : i+j])
			i += j
		case strings.HasPrefix(src[i:], `"""`), strings.HasPrefix(src[i:], `'''`):
			delim := src[i : i+3]
			end := strings.Index(src[i+3:], delim)
			if end < 0 {
				out.WriteString(src[i:])
				return out.String(), unset, nil // the TOML parser reports it
			}
			body := src[i+3 : i+3+end]
			exp, err := expandString(body, delim[0] == '"', line, getenv, &unset)
			if err != nil {
				return "", nil, err
			}
			out.WriteString(delim + exp + delim)
			line += strings.Count(body, "\n")
			i += 3 + end + 3
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c && src[j] != '\n' {
				if c == '"' && src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) || src[j] != c {
				out.WriteString(src[i:min(j, len(src))])
				i = j
				continue
			}
			exp, err := expandString(src[i+1:j], c == '"', line, getenv, &unset)
			if err != nil {
				return "", nil, err
			}
			out.WriteByte(c)
			out.WriteString(exp)
			out.WriteByte(c)
			i = j + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.String(), unset, nil
}

func expandString(s string, basic bool, line int, getenv func(string) (string, bool), unset *[]unsetVar) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var out strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			out.WriteString(s)
			return out.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			out.WriteString(s)
			return out.String(), nil
		}
		name := s[i+2 : i+j]
		if !validEnvName(name) {
			return "", fmt.Errorf("line %d: ${%s} is not a valid environment variable name", line, name)
		}
		v, ok := getenv(name)
		if !ok {
			*unset = append(*unset, unsetVar{Name: name, Line: line})
		}
		if basic {
			v = escapeBasic(v)
		} else if strings.ContainsAny(v, "'\n") {
			return "", fmt.Errorf("line %d: environment variable %s contains a quote or newline; use a \"double-quoted\" string", line, name)
		}
		out.WriteString(s[:i])
		out.WriteString(v)
		s = s[i+j+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

func escapeBasic(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
