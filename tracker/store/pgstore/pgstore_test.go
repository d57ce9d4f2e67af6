package pgstore_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/p2pchat/p2pchat/internal/leakcheck"
	"github.com/p2pchat/p2pchat/internal/testenv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/p2pchat/p2pchat/tracker/store"
	"github.com/p2pchat/p2pchat/tracker/store/pgstore"
	"github.com/p2pchat/p2pchat/tracker/store/storetest"
)

const envURL = "P2PCHAT_TEST_POSTGRES"

// testURL returns the database URL, skipping the test when none is set
// (failing under CI, where a skipped PostgreSQL suite would hide breakage).
func testURL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the PostgreSQL store is tested against a real server")
	}
	return testenv.PostgresURL(t)
}

// freshSchema creates an empty schema that Cleanup drops, so tests and
// packages running in parallel on one database never see each other's rows.
func freshSchema(t testing.TB) (url, schema string) {
	t.Helper()
	url = testURL(t)
	schema = "t_" + strings.ToLower(rand.Text()[:16])
	admin(t, url, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin(t, url, "DROP SCHEMA "+schema+" CASCADE") })
	return url, schema
}

// adminPool is shared by all tests for schema setup; TestMain opens it
// before any test counts goroutines. nil when no database is configured.
var adminPool *pgxpool.Pool

func admin(t testing.TB, url, sql string) {
	t.Helper()
	if err := adminExec(url, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func adminExec(url, sql string) error {
	ctx := context.Background()
	if adminPool == nil {
		var err error
		if adminPool, err = pgxpool.New(ctx, url); err != nil {
			return err
		}
	}
	_, err := adminPool.Exec(ctx, sql)
	return err
}

// openIn opens a store whose tables live in schema.
func openIn(t testing.TB, url, schema string) *pgstore.Store {
	t.Helper()
	st, err := openStore(url, schema)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openStore(url, schema string) (*pgstore.Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return pgstore.OpenConfig(context.Background(), cfg, nil)
}

func TestConformance(t *testing.T) {
	leakcheck.Check(t)
	testURL(t) // skip once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		url, schema := freshSchema(t)
		return openIn(t, url, schema)
	})
}

// Two Store instances (two pools) on one schema stand in for two tracker
// processes sharing the database.
func TestTwoProcesses(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	a, b := openIn(t, url, schema), openIn(t, url, schema)
	t.Run("RaceUpdates", func(t *testing.T) { storetest.RaceUpdates(t, a, b) })
	t.Run("RaceCreates", func(t *testing.T) { storetest.RaceCreates(t, a, b) })
}

// Processes starting together on an empty database must not both run the
// migrations (or fail on "relation already exists").
func TestConcurrentOpenOfFreshSchema(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			st, err := openStore(url, schema)
			if err == nil {
				err = st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	assertMigrations(t, url, schema, migrationCount)
}

func TestReopenKeepsData(t *testing.T) {
	leakcheck.Check(t)
	url, schema := freshSchema(t)
	st := openIn(t, url, schema)
	if err := st.Create(t.Context(), storetest.NewRecord("alice", storetest.Key(1), 1)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = openIn(t, url, schema)
	if _, err := st.Get(t.Context(), "alice"); err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	assertMigrations(t, url, schema, migrationCount)
}

func TestOpenBadURL(t *testing.T) {
	leakcheck.Check(t)
	if _, err := pgstore.Open(t.Context(), "postgres://u:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", nil); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
}

func assertMigrations(t *testing.T, url, schema string, want int) {
	t.Helper()
	var n int
	if err := adminPool.QueryRow(context.Background(), "SELECT count(*) FROM "+schema+".schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("schema_migrations has %d rows, want %d", n, want)
	}
}

var bench struct {
	once sync.Once
	st   *pgstore.Store
	url  string
	name string
	err  error
}

// benchOpen shares one store between the framework's repeated calls of a
// benchmark, so the 10,000 users are loaded once; TestMain drops it.
func benchOpen(b *testing.B) store.Store {
	url := testURL(b)
	bench.once.Do(func() {
		bench.url = url
		bench.name = "bench_" + strings.ToLower(rand.Text()[:16])
		bench.err = adminExec(url, "CREATE SCHEMA "+bench.name)
		if bench.err == nil {
			bench.st, bench.err = openStore(url, bench.name)
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.st
}

func TestMain(m *testing.M) {
	if url := os.Getenv(envURL); url != "" {
		// Fails later, in the tests, with a clear message if it cannot connect.
		_ = adminExec(url, "SELECT 1")
	}
	code := m.Run()
	if bench.st != nil {
		bench.st.Close()
	}
	if bench.name != "" {
		adminExec(bench.url, "DROP SCHEMA IF EXISTS "+bench.name+" CASCADE")
	}
	if adminPool != nil {
		adminPool.Close()
	}
	os.Exit(code)
}

func BenchmarkGet(b *testing.B)    { storetest.BenchGet(b, benchOpen(b)) }
func BenchmarkUpdate(b *testing.B) { storetest.BenchUpdate(b, benchOpen(b)) }

// migrationCount is the number of files in migrations/.
const migrationCount = 5

// BenchmarkUpdateConcurrent is BenchmarkUpdate with 32 writers per CPU, as
// a busy tracker has many requests in flight: the case group commit is for.
func BenchmarkUpdateConcurrent(b *testing.B) {
	b.SetParallelism(32)
	storetest.BenchUpdate(b, benchOpen(b))
}
