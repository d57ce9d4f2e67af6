package clidoc

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func testPage() *Page {
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.String("name", "", "user `name`")
	fs.Int("port", 7171, "peer port")
	fs.Bool("man", false, "hidden")
	return &Page{Name: "prog", Section: 1, Summary: "does things", Synopsis: []string{"prog [OPTIONS]"},
		Description: "First paragraph.\n\n  prog --name x\n\nLast.", Flags: fs, Hidden: []string{"man"},
		Sections: []Section{{Title: "Exit status", Items: []Item{{Term: "0", Text: "ok"}}},
			{Title: "Files", Text: "Under the data directory:", Items: []Item{{Term: "key", Text: "the identity"}}}}, SeeAlso: []string{"chatd(1)"}}
}

// Help and man page carry the same flags (hidden ones in neither), and
// the man page escapes what roff would misread.
func TestHelpAndManAgree(t *testing.T) {
	p := testPage()
	var help, man bytes.Buffer
	p.WriteHelp(&help)
	p.WriteMan(&man, "1.0-rc")
	for _, it := range p.Options() {
		if !strings.Contains(help.String(), it.Term) || !strings.Contains(man.String(), roff(it.Term)) {
			t.Errorf("option %q missing from help or man page", it.Term)
		}
	}
	if strings.Contains(help.String(), "--man") || strings.Contains(man.String(), `\-\-man`) {
		t.Error("hidden flag documented")
	}
	for _, want := range []string{`.TH PROG 1 "" "p2pchat 1.0\-rc"`, `.B \-\-name NAME`, "(default 7171)", ".nf\n.RS\nprog \\-\\-name x\n.RE\n.fi", ".BR chatd (1)"} {
		if !strings.Contains(man.String(), want) {
			t.Errorf("man page lacks %q:\n%s", want, man.String())
		}
	}
	if !strings.Contains(help.String(), "exit status:\n  0  ok") || strings.Contains(help.String(), "Last.") ||
		!strings.Contains(help.String(), "files:\n  Under the data directory:\n  key  the identity\n") {
		t.Errorf("help:\n%s", help.String())
	}
}
