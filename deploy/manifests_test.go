package deploy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/cli"
	"go.yaml.in/yaml/v3"
)

// allowedKinds is every apiVersion and kind the manifests may use: the Agones v1 resources and
// the Kubernetes ones the lobby needs. Anything else is a typo or an API we did not check.
var allowedKinds = map[string]bool{
	"agones.dev/v1 Fleet":                           true,
	"autoscaling.agones.dev/v1 FleetAutoscaler":     true,
	"allocation.agones.dev/v1 GameServerAllocation": true,
	"apps/v1 Deployment":                            true,
	"v1 Service":                                    true,
	"v1 ServiceAccount":                             true,
	"v1 Secret":                                     true,
	"rbac.authorization.k8s.io/v1 Role":             true,
	"rbac.authorization.k8s.io/v1 RoleBinding":      true,
}

// shutdownMargin is what terminationGracePeriodSeconds must leave beyond the drain and the
// shutdown: the signal's delivery and the process's exit.
const shutdownMargin = 5 * time.Second

// agonesMaxListCapacity is the largest capacity Agones v1.56 accepts for a List.
const agonesMaxListCapacity = 1000

// doc is one YAML document of one file.
type doc struct {
	file string
	obj  map[string]any
}

func (d doc) kind() string { return str(d.obj, "kind") }
func (d doc) name() string { return str(d.obj, "metadata", "name") }

// manifests is everything under deploy/ that the checks read.
type manifests struct {
	docs                     []doc
	dockerfile, dockerignore string
}

func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{}
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (path == "tools" || path == "schemas") {
			return filepath.SkipDir
		}
		if e.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("%s: %w", path, err)
			}
			if obj != nil {
				m.docs = append(m.docs, doc{path, obj})
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.docs) == 0 {
		t.Fatal("no manifests found under deploy/")
	}
	m.dockerfile = readFile(t, "Dockerfile")
	m.dockerignore = readFile(t, "../.dockerignore")
	return m
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestManifests checks the invariants of deploy/ as committed.
func TestManifests(t *testing.T) {
	for _, v := range load(t).check() {
		t.Error(v)
	}
}

// TestArgsParse runs each container's args through the real command line (cli.Program.Run)
// with -h appended: status 0 means every flag exists and every value parses (a duration, a
// number), status 2 names the first that does not. A misspelt copy must fail, so -h cannot
// hide an error.
func TestArgsParse(t *testing.T) {
	m := load(t)
	run := func(args []string) (int, string) {
		var out, errs bytes.Buffer
		p := cli.Program{Name: "ticksync"}
		code := p.Run(t.Context(), append(slices.Clone(args), "-h"), func(string) string { return "" }, &out, &errs)
		return code, errs.String()
	}
	for _, w := range []struct {
		d   doc
		pod map[string]any
	}{{m.one("Fleet"), m.fleetPod()}, {m.one("Deployment"), obj(m.one("Deployment").obj, "spec", "template", "spec")}} {
		d, args := w.d, strs(firstContainer(w.pod), "args")
		if len(args) < 2 {
			t.Fatalf("%s: args %q", d.file, args)
		}
		if code, stderr := run(args); code != 0 {
			t.Errorf("%s: %q -h exits %d:\n%s", d.file, args, code, flagError(stderr))
		}
		broken := slices.Clone(args)
		broken[1] += "x"
		if code, _ := run(broken); code != 2 {
			t.Errorf("%s: %q -h exits %d, want 2 for the unknown flag %s", d.file, broken, code, broken[1])
		}
	}
}

// flagError is the line of a command's stderr that names the flag error (it comes before the
// usage text), else its last line.
func flagError(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.Contains(l, "flag") || strings.Contains(l, "invalid") {
			return l
		}
	}
	return lines[len(lines)-1]
}

// TestChecksCatchBreakage breaks one invariant at a time, in memory, and expects check to
// name it: a check that passes everything would pass TestManifests too.
func TestChecksCatchBreakage(t *testing.T) {
	fleetContainer := func(m *manifests) map[string]any {
		return firstContainer(m.fleetPod())
	}
	lobbyContainer := func(m *manifests) map[string]any {
		return list(m.one("Deployment").obj, "spec", "template", "spec", "containers")[0].(map[string]any)
	}
	setArg := func(c map[string]any, flag, value string) {
		args := c["args"].([]any)
		i := slices.Index(args, any(flag))
		args[i+1] = value
	}
	cases := []struct {
		name, want string
		breakIt    func(t *testing.T, m *manifests)
	}{
		{"unknown apiVersion", "agones.dev/v1beta1 Fleet", func(t *testing.T, m *manifests) {
			m.one("Fleet").obj["apiVersion"] = "agones.dev/v1beta1"
		}},
		{"UDP game port", "protocol", func(t *testing.T, m *manifests) {
			list(m.one("Fleet").obj, "spec", "template", "spec", "ports")[0].(map[string]any)["protocol"] = "UDP"
		}},
		{"UDP lobby port", "protocol", func(t *testing.T, m *manifests) {
			lobbyContainer(m)["ports"].([]any)[0].(map[string]any)["protocol"] = "UDP"
		}},
		{"list key differs from -agones-list", "lists", func(t *testing.T, m *manifests) {
			setArg(fleetContainer(m), "-agones-list", "sessions")
		}},
		{"counter key differs from -agones-counter", "counters", func(t *testing.T, m *manifests) {
			setArg(fleetContainer(m), "-agones-counter", "seats")
		}},
		{"autoscaler key", "FleetAutoscaler", func(t *testing.T, m *manifests) {
			obj(m.one("FleetAutoscaler").obj, "spec", "policy", "list")["key"] = "room"
		}},
		{"allocation list action key", "GameServerAllocation", func(t *testing.T, m *manifests) {
			l := obj(m.allocation(t, "lists"), "spec", "lists")
			l["room"] = l["rooms"]
			delete(l, "rooms")
		}},
		{"allocation priority order", "Ascending", func(t *testing.T, m *manifests) {
			list(m.allocation(t, "lists"), "spec", "priorities")[0].(map[string]any)["order"] = "Descending"
		}},
		{"find-room looks at Ready servers", "Allocated", func(t *testing.T, m *manifests) {
			list(m.allocation(t, "containsValue"), "spec", "selectors")[0].(map[string]any)["gameServerState"] = "Ready"
		}},
		{"list capacity differs from -max-rooms", "-max-rooms", func(t *testing.T, m *manifests) {
			setArg(fleetContainer(m), "-max-rooms", "12")
		}},
		{"termination grace too short", "terminationGracePeriodSeconds", func(t *testing.T, m *manifests) {
			m.fleetPod()["terminationGracePeriodSeconds"] = 30
		}},
		{"drain grace too long", "terminationGracePeriodSeconds", func(t *testing.T, m *manifests) {
			setArg(fleetContainer(m), "-drain-grace", "1m")
		}},
		{"health period not above the ping interval", "periodSeconds", func(t *testing.T, m *manifests) {
			obj(m.one("Fleet").obj, "spec", "template", "spec", "health")["periodSeconds"] = 2
		}},
		{"no limits", "limits", func(t *testing.T, m *manifests) {
			delete(obj(lobbyContainer(m), "resources"), "limits")
		}},
		{"no memory request", "requests", func(t *testing.T, m *manifests) {
			delete(obj(fleetContainer(m), "resources", "requests"), "memory")
		}},
		{"root user", "runAsUser", func(t *testing.T, m *manifests) {
			obj(fleetContainer(m), "securityContext")["runAsUser"] = 0
		}},
		{"writable root filesystem", "readOnlyRootFilesystem", func(t *testing.T, m *manifests) {
			obj(lobbyContainer(m), "securityContext")["readOnlyRootFilesystem"] = false
		}},
		{"recordings on the read-only root", "-record-dir", func(t *testing.T, m *manifests) {
			setArg(fleetContainer(m), "-record-dir", "/var/recordings")
		}},
		{"lobby on another fleet", "-fleet", func(t *testing.T, m *manifests) {
			setArg(lobbyContainer(m), "-fleet", "arena")
		}},
		{"lobby hands out another port", "-port-name", func(t *testing.T, m *manifests) {
			setArg(lobbyContainer(m), "-port-name", "game")
		}},
		{"other secret", "Secret", func(t *testing.T, m *manifests) {
			env := fleetContainer(m)["env"].([]any)[0]
			obj(env, "valueFrom", "secretKeyRef")["name"] = "other"
		}},
		{"role cannot create allocations", "gameserverallocations", func(t *testing.T, m *manifests) {
			list(m.one("Role").obj, "rules")[0].(map[string]any)["verbs"] = []any{"get"}
		}},
		{"binding to another account", "RoleBinding", func(t *testing.T, m *manifests) {
			list(m.one("RoleBinding").obj, "subjects")[0].(map[string]any)["name"] = "default"
		}},
		{"service misses the pods", "Service", func(t *testing.T, m *manifests) {
			obj(m.one("Service").obj, "spec", "selector")["app.kubernetes.io/name"] = "lobby"
		}},
		{"probe elsewhere", "/healthz", func(t *testing.T, m *manifests) {
			obj(lobbyContainer(m), "livenessProbe", "httpGet")["path"] = "/"
		}},
		{"two images", "image", func(t *testing.T, m *manifests) { lobbyContainer(m)["image"] = "other:1" }},
		{"single-stage Dockerfile", "stages", func(t *testing.T, m *manifests) {
			m.dockerfile = regexp.MustCompile(`(?ms)^FROM golang.*?^FROM `).ReplaceAllString(m.dockerfile, "FROM ")
		}},
		{"cgo on", "CGO_ENABLED=0", func(t *testing.T, m *manifests) {
			m.dockerfile = strings.ReplaceAll(m.dockerfile, "CGO_ENABLED=0", "CGO_ENABLED=1")
		}},
		{"runs as root", "root", func(t *testing.T, m *manifests) { m.dockerfile += "USER root\n" }},
		{"no entrypoint", "ENTRYPOINT", func(t *testing.T, m *manifests) {
			m.dockerfile = regexp.MustCompile(`(?m)^ENTRYPOINT.*$`).ReplaceAllString(m.dockerfile, `CMD ["/usr/local/bin/server"]`)
		}},
		{"node_modules in the context", "node_modules", func(t *testing.T, m *manifests) {
			m.dockerignore = strings.ReplaceAll(m.dockerignore, "node_modules", "nm")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := load(t)
			c.breakIt(t, m)
			got := m.check()
			for _, v := range got {
				if strings.Contains(v, c.want) {
					return
				}
			}
			t.Errorf("check did not report %q; it reported %q", c.want, got)
		})
	}
}

// one is the only document of that kind; a check reports a count other than one.
func (m *manifests) one(kind string) doc {
	for _, d := range m.docs {
		if d.kind() == kind {
			return d
		}
	}
	return doc{obj: map[string]any{}}
}

// fleetPod is the pod spec of the Fleet's game servers (spec.template.spec.template.spec).
func (m *manifests) fleetPod() map[string]any {
	return obj(m.one("Fleet").obj, "spec", "template", "spec", "template", "spec")
}

// allocation is the GameServerAllocation example whose spec has that field (lists: the new
// room; containsValue: the find-room one).
func (m *manifests) allocation(t *testing.T, field string) map[string]any {
	for _, d := range m.docs {
		if d.kind() == "GameServerAllocation" && isNewRoom(d) == (field == "lists") {
			return d.obj
		}
	}
	t.Fatalf("no allocation example with %s", field)
	return nil
}

func isNewRoom(d doc) bool { return obj(d.obj, "spec", "lists") != nil }

// checker collects violations.
type checker struct{ out []string }

func (c *checker) errorf(format string, args ...any) {
	c.out = append(c.out, fmt.Sprintf(format, args...))
}

// check returns every broken invariant, one line each.
func (m *manifests) check() []string {
	c := &checker{}
	count := map[string]int{}
	for _, d := range m.docs {
		av := str(d.obj, "apiVersion") + " " + d.kind()
		if !allowedKinds[av] {
			c.errorf("%s: %s %q is not an allowed apiVersion and kind", d.file, av, d.name())
		}
		count[d.kind()]++
	}
	for kind, want := range map[string]int{"Fleet": 1, "FleetAutoscaler": 1, "GameServerAllocation": 2, "Deployment": 1,
		"Service": 1, "ServiceAccount": 1, "Role": 1, "RoleBinding": 1, "Secret": 1} {
		if count[kind] != want {
			c.errorf("%d documents of kind %s, want %d", count[kind], kind, want)
		}
	}
	fleet, lobby := m.one("Fleet"), m.one("Deployment")
	gsSpec := obj(fleet.obj, "spec", "template", "spec")
	fleetPod := m.fleetPod()
	lobbyPod := obj(lobby.obj, "spec", "template", "spec")
	for _, p := range []struct {
		d   doc
		pod map[string]any
	}{{fleet, fleetPod}, {lobby, lobbyPod}} {
		m.checkPod(c, p.d, p.pod)
	}
	for i, p := range list(gsSpec, "ports") {
		if str(p, "protocol") != "TCP" {
			c.errorf("%s: Fleet port %d has protocol %q, want TCP (Agones defaults to UDP)", fleet.file, i, str(p, "protocol"))
		}
	}
	for _, d := range m.docs {
		if d.kind() == "Service" {
			for i, p := range list(d.obj, "spec", "ports") {
				if str(p, "protocol") != "TCP" {
					c.errorf("%s: Service port %d has protocol %q, want TCP", d.file, i, str(p, "protocol"))
				}
			}
		}
	}
	m.checkFleet(c, fleet, gsSpec, fleetPod)
	m.checkLobby(c, fleet, lobby, lobbyPod)
	checkDockerfile(c, m.dockerfile, m.dockerignore)
	return c.out
}

// checkPod: every container has CPU and memory requests and limits, runs as non-root on a
// read-only root filesystem without privilege escalation, uses the one image, TCP ports, and
// takes TICKSYNC_AUTH_SECRET from the Secret example's name and key.
func (m *manifests) checkPod(c *checker, d doc, pod map[string]any) {
	secret := m.one("Secret")
	containers := list(pod, "containers")
	if len(containers) != 1 {
		c.errorf("%s: %d containers, want 1", d.file, len(containers))
	}
	podNonRoot := boolean(pod, "securityContext", "runAsNonRoot")
	for _, ct := range containers {
		name := fmt.Sprintf("%s: container %q", d.file, str(ct, "name"))
		for _, kind := range []string{"requests", "limits"} {
			for _, res := range []string{"cpu", "memory"} {
				if field(ct, "resources", kind, res) == nil {
					c.errorf("%s has no resources.%s.%s", name, kind, res)
				}
			}
		}
		sc := obj(ct, "securityContext")
		if !podNonRoot && !boolean(sc, "runAsNonRoot") {
			c.errorf("%s: runAsNonRoot is not set", name)
		}
		if u, ok := num(sc, "runAsUser"); !ok || u == 0 {
			c.errorf("%s: runAsUser must be set and not 0 (root)", name)
		}
		if !boolean(sc, "readOnlyRootFilesystem") {
			c.errorf("%s: readOnlyRootFilesystem is not true", name)
		}
		if v, ok := field(sc, "allowPrivilegeEscalation").(bool); !ok || v {
			c.errorf("%s: allowPrivilegeEscalation is not false", name)
		}
		if img := str(ct, "image"); img != str(firstContainer(m.fleetPod()), "image") {
			c.errorf("%s: image %q differs from the Fleet's: one image runs both", name, img)
		}
		for i, p := range list(ct, "ports") {
			if str(p, "protocol") != "TCP" {
				c.errorf("%s: port %d has protocol %q, want TCP", name, i, str(p, "protocol"))
			}
		}
		found := false
		for _, e := range list(ct, "env") {
			if str(e, "name") != "TICKSYNC_AUTH_SECRET" {
				continue
			}
			found = true
			ref := obj(e, "valueFrom", "secretKeyRef")
			key := ""
			for k := range obj(secret.obj, "stringData") {
				key = k
			}
			if str(ref, "name") != secret.name() || str(ref, "key") != key {
				c.errorf("%s: TICKSYNC_AUTH_SECRET comes from Secret %q key %q, not the example's %q key %q",
					name, str(ref, "name"), str(ref, "key"), secret.name(), key)
			}
		}
		if !found {
			c.errorf("%s: no TICKSYNC_AUTH_SECRET from the Secret", name)
		}
	}
}

// checkFleet ties the Fleet to serve's flags, the FleetAutoscaler and the allocations.
func (m *manifests) checkFleet(c *checker, fleet doc, gsSpec, pod map[string]any) {
	ct := firstContainer(pod)
	sub, flags := parseArgs(c, fleet.file, list(ct, "args"))
	if sub != "serve" || flags["agones"] != "true" {
		c.errorf("%s: the game server runs %q agones=%q, want serve -agones", fleet.file, sub, flags["agones"])
	}
	if flags["auth"] != "token" {
		c.errorf("%s: -auth is %q, want token (the lobby mints the players' tokens)", fleet.file, flags["auth"])
	}
	listKey, counterKey := flags["agones-list"], flags["agones-counter"]
	if keys := mapKeys(obj(gsSpec, "lists")); !slices.Equal(keys, []string{listKey}) {
		c.errorf("%s: the Fleet's lists are %q, want exactly -agones-list %q", fleet.file, keys, listKey)
	}
	if keys := mapKeys(obj(gsSpec, "counters")); !slices.Equal(keys, []string{counterKey}) {
		c.errorf("%s: the Fleet's counters are %q, want exactly -agones-counter %q", fleet.file, keys, counterKey)
	}
	maxRooms, maxPlayers := atoi(c, fleet.file, flags, "max-rooms"), atoi(c, fleet.file, flags, "max-players")
	if capacity, _ := num(gsSpec, "lists", listKey, "capacity"); capacity != maxRooms || capacity > agonesMaxListCapacity {
		c.errorf("%s: list capacity %d, want -max-rooms %d (at most %d)", fleet.file, capacity, maxRooms, agonesMaxListCapacity)
	}
	if capacity, _ := num(gsSpec, "counters", counterKey, "capacity"); capacity != maxRooms*maxPlayers {
		c.errorf("%s: counter capacity %d, want -max-rooms x -max-players = %d", fleet.file, capacity, maxRooms*maxPlayers)
	}

	drain, shutdown := duration(c, fleet.file, flags, "drain-grace"), duration(c, fleet.file, flags, "shutdown-timeout")
	grace, _ := num(pod, "terminationGracePeriodSeconds")
	if want := drain + shutdown + shutdownMargin; time.Duration(grace)*time.Second < want {
		c.errorf("%s: terminationGracePeriodSeconds %d < -drain-grace %v + -shutdown-timeout %v + %v: SIGKILL would cut the drain",
			fleet.file, grace, drain, shutdown, shutdownMargin)
	}
	ping := duration(c, fleet.file, flags, "agones-health")
	period, _ := num(gsSpec, "health", "periodSeconds")
	if time.Duration(period)*time.Second <= ping || boolean(gsSpec, "health", "disabled") {
		c.errorf("%s: health.periodSeconds %d is not above -agones-health %v", fleet.file, period, ping)
	}
	if f, _ := num(gsSpec, "health", "failureThreshold"); f < 2 {
		c.errorf("%s: health.failureThreshold %d: one late ping would mark the server Unhealthy", fleet.file, f)
	}
	if !mountedEmptyDir(pod, ct, flags["record-dir"]) {
		c.errorf("%s: -record-dir %q is not an emptyDir volume mount (the root filesystem is read-only)", fleet.file, flags["record-dir"])
	}

	fa := m.one("FleetAutoscaler")
	if str(fa.obj, "spec", "fleetName") != fleet.name() || str(fa.obj, "spec", "policy", "type") != "List" ||
		str(fa.obj, "spec", "policy", "list", "key") != listKey {
		c.errorf("%s: the FleetAutoscaler must be type List on the Fleet %q's list %q", fa.file, fleet.name(), listKey)
	}
	if b, _ := num(fa.obj, "spec", "policy", "list", "bufferSize"); b < 1 {
		c.errorf("%s: the FleetAutoscaler's bufferSize %d keeps no free room", fa.file, b)
	}
	m.checkAllocations(c, fleet.name(), listKey)
}

// checkAllocations: the new-room example packs (Allocated, then Ready, with a free slot;
// fullest first) and adds the room's id; the find-room example looks for an Allocated
// server holding it and changes nothing. Every key is the Fleet's list.
func (m *manifests) checkAllocations(c *checker, fleetName, listKey string) {
	var newRoom, findRoom int
	for _, d := range m.docs {
		if d.kind() != "GameServerAllocation" {
			continue
		}
		bad := func(format string, args ...any) {
			c.errorf("%s: GameServerAllocation: "+format, append([]any{d.file}, args...)...)
		}
		spec := obj(d.obj, "spec")
		selectors := list(spec, "selectors")
		var states []string
		for _, s := range selectors {
			states = append(states, str(s, "gameServerState"))
			if got := str(s, "matchLabels", "agones.dev/fleet"); got != fleetName {
				bad("selector on fleet %q, want %q", got, fleetName)
			}
			if keys := mapKeys(obj(s, "lists")); !slices.Equal(keys, []string{listKey}) {
				bad("selector lists %q, want %q", keys, listKey)
			}
		}
		if !isNewRoom(d) {
			findRoom++
			if !slices.Equal(states, []string{"Allocated"}) || str(selectors[0], "lists", listKey, "containsValue") == "" {
				bad("find-room needs one selector on Allocated servers with lists.%s.containsValue", listKey)
			}
			continue
		}
		newRoom++
		if !slices.Equal(states, []string{"Allocated", "Ready"}) {
			bad("new-room selectors' states %q, want Allocated then Ready", states)
		}
		for _, s := range selectors {
			if n, _ := num(s, "lists", listKey, "minAvailable"); n < 1 {
				bad("new-room selector without lists.%s.minAvailable >= 1", listKey)
			}
			// A draining server labels itself (agonesmode.DrainingLabel, SDK-prefixed).
			exprs := list(s, "matchExpressions")
			if !slices.ContainsFunc(exprs, func(e any) bool {
				return str(e, "key") == "agones.dev/sdk-draining" && str(e, "operator") == "DoesNotExist"
			}) {
				bad("new-room selector must skip draining servers (matchExpressions: agones.dev/sdk-draining DoesNotExist)")
			}
		}
		prio := list(spec, "priorities")
		if len(prio) != 1 || str(prio[0], "type") != "List" || str(prio[0], "key") != listKey || str(prio[0], "order") != "Ascending" {
			bad("priorities must be [{type: List, key: %s, order: Ascending}] (fullest first)", listKey)
		}
		if keys := mapKeys(obj(spec, "lists")); !slices.Equal(keys, []string{listKey}) || len(list(spec, "lists", listKey, "addValues")) != 1 {
			bad("lists %q: want one addValues on %q", keys, listKey)
		}
	}
	if newRoom != 1 || findRoom != 1 {
		c.errorf("GameServerAllocation examples: %d new-room and %d find-room, want one of each", newRoom, findRoom)
	}
}

// checkLobby: the lobby allocates from the Fleet's list, may create allocations and nothing
// else, is reached through its Service and probed on /healthz.
func (m *manifests) checkLobby(c *checker, fleet, lobby doc, pod map[string]any) {
	ct := firstContainer(pod)
	sub, flags := parseArgs(c, lobby.file, list(ct, "args"))
	_, serveFlags := parseArgs(c, fleet.file, list(firstContainer(m.fleetPod()), "args"))
	if sub != "lobby" || flags["fleet"] != fleet.name() || flags["list"] != serveFlags["agones-list"] {
		c.errorf("%s: the lobby runs %q -fleet %q -list %q, want lobby -fleet %q -list %q",
			lobby.file, sub, flags["fleet"], flags["list"], fleet.name(), serveFlags["agones-list"])
	}
	// The lobby hands out the address of the Fleet's port of that name (lobby's default: default).
	gamePort := cmp.Or(flags["port-name"], "default")
	if !slices.ContainsFunc(list(fleet.obj, "spec", "template", "spec", "ports"), func(p any) bool { return str(p, "name") == gamePort }) {
		c.errorf("%s: -port-name %q names no port of the Fleet", lobby.file, gamePort)
	}
	portNames := map[string]bool{}
	for _, p := range list(ct, "ports") {
		portNames[str(p, "name")] = true
		if n, _ := num(p, "containerPort"); ":"+strconv.Itoa(n) != flags["addr"] {
			c.errorf("%s: containerPort %d is not the lobby's -addr %q", lobby.file, n, flags["addr"])
		}
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if str(ct, probe, "httpGet", "path") != "/healthz" || !portNames[str(ct, probe, "httpGet", "port")] {
			c.errorf("%s: %s must be httpGet /healthz on a named container port", lobby.file, probe)
		}
	}

	sa := str(pod, "serviceAccountName")
	if m.one("ServiceAccount").name() != sa || sa == "" {
		c.errorf("%s: serviceAccountName %q has no ServiceAccount", lobby.file, sa)
	}
	role, binding := m.one("Role"), m.one("RoleBinding")
	canCreate := false
	for _, r := range list(role.obj, "rules") {
		canCreate = canCreate || slices.Contains(strs(r, "apiGroups"), "allocation.agones.dev") &&
			slices.Contains(strs(r, "resources"), "gameserverallocations") && slices.Contains(strs(r, "verbs"), "create")
	}
	if !canCreate || len(list(role.obj, "rules")) != 1 {
		c.errorf("%s: the Role must grant exactly create on gameserverallocations (allocation.agones.dev)", role.file)
	}
	subjects := list(binding.obj, "subjects")
	if str(binding.obj, "roleRef", "kind") != "Role" || str(binding.obj, "roleRef", "name") != role.name() ||
		len(subjects) != 1 || str(subjects[0], "kind") != "ServiceAccount" || str(subjects[0], "name") != sa {
		c.errorf("%s: the RoleBinding must bind Role %q to ServiceAccount %q", binding.file, role.name(), sa)
	}

	svc := m.one("Service")
	labels := obj(lobby.obj, "spec", "template", "metadata", "labels")
	sel := obj(svc.obj, "spec", "selector")
	for k, v := range sel {
		if labels[k] != v {
			c.errorf("%s: the Service's selector %s=%v does not match the lobby's pods", svc.file, k, v)
		}
	}
	for _, p := range list(svc.obj, "spec", "ports") {
		if !portNames[str(p, "targetPort")] {
			c.errorf("%s: the Service's targetPort %v is not a lobby container port", svc.file, field(p, "targetPort"))
		}
	}
	if len(sel) == 0 {
		c.errorf("%s: the Service has no selector", svc.file)
	}
}

// checkDockerfile: multi-stage (a golang:1.26 builder), a static trimmed build, a non-root
// runtime, an exec-form ENTRYPOINT, ./cmd/ticksync by default; .dockerignore keeps
// node_modules and recordings out of the context but not the embedded pages.
func checkDockerfile(c *checker, dockerfile, dockerignore string) {
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(dockerfile, -1)
	if len(from) < 2 || !strings.HasPrefix(from[0][1], "golang:1.26") {
		c.errorf("Dockerfile: %d stages, want a golang:1.26 builder and a runtime stage", len(from))
		return
	}
	build := regexp.MustCompile(`(?m)^RUN .*go build.*$`).FindString(dockerfile)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, `"$MAIN"`} {
		if !strings.Contains(build, want) {
			c.errorf("Dockerfile: the go build line %q lacks %s", build, want)
		}
	}
	if m := regexp.MustCompile(`(?m)^ARG MAIN=(\S+)$`).FindStringSubmatch(dockerfile); m == nil || m[1] != "./cmd/ticksync" {
		c.errorf("Dockerfile: ARG MAIN must default to ./cmd/ticksync")
	} else if _, err := os.Stat(filepath.Join("..", m[1], "main.go")); err != nil {
		c.errorf("Dockerfile: MAIN %s: %v", m[1], err)
	}
	final := dockerfile[strings.LastIndex(dockerfile, "\nFROM "):]
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(final, -1)
	nonroot := strings.HasSuffix(from[len(from)-1][1], ":nonroot")
	if len(users) > 0 {
		u := strings.Split(users[len(users)-1][1], ":")[0]
		nonroot = u != "root" && u != "0"
	}
	if !nonroot {
		c.errorf("Dockerfile: the runtime stage runs as root (USER or a :nonroot base)")
	}
	if !strings.Contains(final, "COPY --from=") {
		c.errorf("Dockerfile: the runtime stage copies nothing from the builder stages")
	}
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \["/`).MatchString(final) {
		c.errorf("Dockerfile: the runtime stage needs an exec-form ENTRYPOINT running the binary")
	}
	ignored := strings.Fields(dockerignore)
	for _, want := range []string{"**/node_modules", "recordings"} {
		if !slices.Contains(ignored, want) {
			c.errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, keep := range []string{"web", "examples", "cmd", "go.mod", "go.sum"} {
		if slices.Contains(ignored, keep) || slices.Contains(ignored, keep+"/") || slices.Contains(ignored, "/"+keep) {
			c.errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}

// parseArgs splits a container's args into the subcommand and its flags (-name value, or
// -name for the boolean flags; -name=value too). Boolean flags read "true".
func parseArgs(c *checker, file string, args []any) (string, map[string]string) {
	flags := map[string]string{}
	var s []string
	for _, a := range args {
		v, ok := a.(string)
		if !ok {
			c.errorf("%s: argument %v is not a string", file, a)
		}
		s = append(s, v)
	}
	if len(s) == 0 {
		return "", flags
	}
	bools := map[string]bool{"agones": true, "record": true, "pprof": true, "require-recording": true}
	for i := 1; i < len(s); i++ {
		name, ok := strings.CutPrefix(s[i], "-")
		if !ok {
			c.errorf("%s: argument %q is not a flag", file, s[i])
			continue
		}
		if k, v, ok := strings.Cut(name, "="); ok {
			flags[k] = v
		} else if bools[name] {
			flags[name] = "true"
		} else if i+1 < len(s) {
			flags[name] = s[i+1]
			i++
		} else {
			c.errorf("%s: flag -%s has no value", file, name)
		}
	}
	return s[0], flags
}

func duration(c *checker, file string, flags map[string]string, name string) time.Duration {
	d, err := time.ParseDuration(flags[name])
	if err != nil {
		c.errorf("%s: -%s: %v", file, name, err)
	}
	return d
}

func atoi(c *checker, file string, flags map[string]string, name string) int {
	n, err := strconv.Atoi(flags[name])
	if err != nil {
		c.errorf("%s: -%s: %v", file, name, err)
	}
	return n
}

// mountedEmptyDir reports whether dir is the mount path of one of the container's volume
// mounts whose volume is an emptyDir.
func mountedEmptyDir(pod, ct map[string]any, dir string) bool {
	for _, vm := range list(ct, "volumeMounts") {
		if str(vm, "mountPath") != dir {
			continue
		}
		for _, v := range list(pod, "volumes") {
			if str(v, "name") == str(vm, "name") && field(v, "emptyDir") != nil {
				return true
			}
		}
	}
	return false
}

func firstContainer(pod map[string]any) map[string]any {
	if cs := list(pod, "containers"); len(cs) > 0 {
		m, _ := cs[0].(map[string]any)
		return m
	}
	return nil
}

// field walks nested mappings by key; nil when any step is missing.
func field(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string   { s, _ := field(v, path...).(string); return s }
func boolean(v any, path ...string) bool { b, _ := field(v, path...).(bool); return b }
func list(v any, path ...string) []any   { l, _ := field(v, path...).([]any); return l }

func obj(v any, path ...string) map[string]any {
	m, _ := field(v, path...).(map[string]any)
	return m
}

func num(v any, path ...string) (int, bool) {
	n, ok := field(v, path...).(int)
	return n, ok
}

func strs(v any, path ...string) []string {
	var out []string
	for _, e := range list(v, path...) {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
