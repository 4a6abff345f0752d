package deployconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrDockerfile marks a Dockerfile that ParseDockerfile cannot read.
var ErrDockerfile = errors.New("malformed Dockerfile")

// A Stage is one FROM section of a Dockerfile.
type Stage struct {
	// Image is the base image reference (FROM's argument, flags removed).
	Image string
	// Name is the stage name given by "AS name", or "".
	Name string
	// Instructions are the stage's instructions after FROM, in order.
	Instructions []Instruction
}

// An Instruction is one Dockerfile instruction with its continuation lines joined.
type Instruction struct {
	// Command is the instruction keyword in upper case: RUN, COPY, USER, HEALTHCHECK, ….
	Command string
	// Args is the rest of the instruction, continuation lines joined by spaces.
	Args string
	// Line is the 1-based line the instruction starts on.
	Line int
}

// Find returns the stage's instructions with the given command (upper case).
func (s Stage) Find(command string) []Instruction {
	var out []Instruction
	for _, in := range s.Instructions {
		if in.Command == command {
			out = append(out, in)
		}
	}
	return out
}

// ParseDockerfile splits a Dockerfile into stages. It knows the line syntax (comments, blank
// lines, backslash continuations) and FROM's flags and "AS name"; it does not expand ARGs or
// read heredocs, which the project's Dockerfile does not use.
func ParseDockerfile(data []byte) ([]Stage, error) {
	var (
		stages  []Stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue // comments may sit between continuation lines, as in BuildKit
		}
		if pending.Len() == 0 {
			start = n
		} else {
			pending.WriteByte(' ')
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(strings.TrimSpace(body))
			continue
		}
		pending.WriteString(line)
		var err error
		if stages, err = addInstruction(stages, pending.String(), start); err != nil {
			return nil, err
		}
		pending.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockerfile, err)
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("%w: line %d: continuation at end of file", ErrDockerfile, start)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%w: no FROM", ErrDockerfile)
	}
	return stages, nil
}

func addInstruction(stages []Stage, text string, line int) ([]Stage, error) {
	command, args, _ := strings.Cut(text, " ")
	in := Instruction{Command: strings.ToUpper(command), Args: strings.TrimSpace(args), Line: line}
	if in.Command != "FROM" {
		if len(stages) == 0 {
			if in.Command == "ARG" {
				return stages, nil // an ARG before the first FROM parameterises FROM lines
			}
			return nil, fmt.Errorf("%w: line %d: %s before the first FROM", ErrDockerfile, line, in.Command)
		}
		last := &stages[len(stages)-1]
		last.Instructions = append(last.Instructions, in)
		return stages, nil
	}
	var words []string
	for _, w := range strings.Fields(in.Args) {
		if !strings.HasPrefix(w, "--") {
			words = append(words, w)
		}
	}
	switch {
	case len(words) == 1:
		return append(stages, Stage{Image: words[0]}), nil
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		return append(stages, Stage{Image: words[0], Name: words[2]}), nil
	default:
		return nil, fmt.Errorf("%w: line %d: FROM %s", ErrDockerfile, line, in.Args)
	}
}
