package repl

import (
	"bufio"
	"unicode"
)

// keyCode names the editing keys that arrive as escape sequences.
type keyCode int

const (
	keyRune keyCode = iota // r holds the character or control byte
	keyUp
	keyDown
	keyLeft
	keyRight
	keyHome
	keyEnd
	keyDelete
	keyIgnore // an escape sequence we do not handle
)

type key struct {
	code keyCode
	r    rune
}

const (
	ctrlA = 1
	ctrlB = 2
	ctrlC = 3
	ctrlD = 4
	ctrlE = 5
	ctrlF = 6
	ctrlH = 8
	ctrlK = 11
	ctrlL = 12
	ctrlN = 14
	ctrlP = 16
	ctrlU = 21
	ctrlW = 23
	esc   = 27
	del   = 127
)

// readKey reads one key press: a rune, a control byte, or a CSI/SS3
// sequence from the arrow and editing keys.
func readKey(r *bufio.Reader) (key, error) {
	c, _, err := r.ReadRune()
	if err != nil {
		return key{}, err
	}
	if c != esc {
		return key{code: keyRune, r: c}, nil
	}
	c, _, err = r.ReadRune()
	if err != nil {
		return key{}, err
	}
	switch c {
	case '[':
		return readCSI(r)
	case 'O':
		c, _, err = r.ReadRune()
		return ss3Key(c), err
	}
	return key{code: keyIgnore}, nil // Alt+key: not bound
}

// readCSI reads parameter bytes up to the final byte (0x40–0x7e).
func readCSI(r *bufio.Reader) (key, error) {
	var params []rune
	for {
		c, _, err := r.ReadRune()
		if err != nil {
			return key{}, err
		}
		if c >= 0x40 && c <= 0x7e {
			return csiKey(string(params), c), nil
		}
		if len(params) < 16 {
			params = append(params, c)
		}
	}
}

func csiKey(params string, final rune) key {
	switch final {
	case 'A':
		return key{code: keyUp}
	case 'B':
		return key{code: keyDown}
	case 'C':
		return key{code: keyRight}
	case 'D':
		return key{code: keyLeft}
	case 'H':
		return key{code: keyHome}
	case 'F':
		return key{code: keyEnd}
	case '~':
		switch params {
		case "1", "7":
			return key{code: keyHome}
		case "4", "8":
			return key{code: keyEnd}
		case "3":
			return key{code: keyDelete}
		}
	}
	return key{code: keyIgnore}
}

func ss3Key(c rune) key {
	switch c {
	case 'H':
		return key{code: keyHome}
	case 'F':
		return key{code: keyEnd}
	case 'A', 'B', 'C', 'D':
		return csiKey("", c)
	}
	return key{code: keyIgnore}
}

func printable(r rune) bool {
	return r == ' ' || (unicode.IsPrint(r) && !unicode.IsControl(r))
}
