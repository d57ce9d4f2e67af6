package store

import (
	"strings"
	"testing"
)

// TestQueryPlansUseIndexes guards the queries that must stay fast however
// long the history grows: none may scan the messages or events table.
func TestQueryPlansUseIndexes(t *testing.T) {
	s, _ := openTest(t)
	for name, q := range map[string]string{
		"pending":       `SELECT seq FROM messages WHERE peer = 'b' AND dir = 'out' AND delivered_at = 0 AND seq > 0 ORDER BY seq LIMIT 10`,
		"pending peers": `SELECT DISTINCT peer FROM messages WHERE dir = 'out' AND delivered_at = 0 ORDER BY peer`,
		"history":       `SELECT seq FROM messages WHERE peer = 'b' AND seq < 100 ORDER BY seq DESC LIMIT 10`,
		"message":       `SELECT seq FROM messages WHERE peer = 'b' AND dir = 'in' AND id = x'00'`,
		"mark":          `UPDATE messages SET state = 'sent' WHERE peer = 'b' AND dir = 'out' AND state = 'queued' AND id IN (x'00', x'01')`,
		"events":        strings.ReplaceAll(eventQuery, "?", "1"),
		"mark by seq":   `UPDATE messages SET state = 'delivered', delivered_at = 1 WHERE peer = 'b' AND dir = 'out' AND state <> 'delivered' AND seq IN (1, 2)`,
	} {
		rows, err := s.w.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			// A scan is fine only over the outbox, which stays small.
			if strings.HasPrefix(step, "SCAN") && !strings.Contains(step, "INDEX messages_outbox") {
				t.Errorf("%s scans a table: %q", name, plan)
			}
		}
		t.Logf("%s: %q", name, plan)
	}
}
