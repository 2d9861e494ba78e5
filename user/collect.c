// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "goruntime.h"
#include "ksyms.h"
#include "tracer.h"
#include "sitelabel.h"
#include "unwind.h"
#include "util.h"
#include "waitkind.h"

#define SYS_futex 202
#define SYS_futex_waitv 449
#define SYS_futex_wait 455
#define FUTEX_WAIT_BITSET 9

/* A thread's resolved park: valid while (tid, start_time, seq) is unchanged. */
struct thr {
	uint32_t tid;
	uint64_t start_time;
	uint64_t seq;
	unsigned scan; /* last scan that saw it */
	bool resolved;
	struct pw_frame *frames;
	int nframes;
	const char **kframes;
	int nkframes;
	struct thr *retired_next; /* on pw_collector.retired_thrs */
};

/* When we first saw a parked goroutine: the lower bound of its age when the runtime has none. */
struct go_seen {
	uint64_t goid;
	uint64_t sig;	   /* where it is parked: a different place is a different park */
	int64_t waitsince; /* as last read: the runtime changes it when the goroutine runs */
	double first;	   /* CLOCK_MONOTONIC seconds */
};

struct proc {
	uint32_t pid;
	uint32_t ns_pid;
	uint64_t start_time;
	uint32_t exec_id;
	unsigned scan;
	bool filtered_out;
	bool syms_failed;
	int nbad_seen; /* unreadable modules already counted and reported */
	struct pw_proc_syms *syms;
	char comm[16];
	struct proc *retired_next; /* on pw_collector.retired */
	/* Goroutines (Go processes only): the reader, and first-seen times sorted by goid. */
	struct pw_go_proc *go;
	bool go_failed; /* not Go, or not readable: thread sites only */
	bool go_warned; /* the one line about a failed scan was printed */
	struct go_seen *seen;
	size_t nseen;
};

struct member {
	struct thr *t; /* NULL for a goroutine */
	struct proc *p;
	enum pw_kind kind;
	const struct pw_frame *frames; /* the thread's, or the goroutine's (owned by p->go) */
	int nframes;
	const char **kframes;
	int nkframes;
	uint64_t key;
	uint64_t word;
	double age;
	const char *wait;
	uint32_t ns_pid;
	uint32_t op;
	bool lower_bound;
	bool has_word;
	bool timed;
};

/* Open-addressing table of pointers keyed by a 32-bit id, rebuilt on expiry. */
struct tbl {
	void **slot;
	uint32_t *key;
	size_t cap, n;
};

struct pw_collector {
	struct pw_collect_opts opts;
	struct tbl thrs, procs;
	struct member *m;
	size_t nm, capm;
	unsigned scan;
	uint64_t parked;
	uint64_t parked_go;
	struct pw_drops drops;
	struct proc *retired;	  /* replaced mid-scan, still named by members: freed at finish */
	struct thr *retired_thrs; /* the same for threads (a tid reused while the iterator ran) */
};

static size_t tbl_pos(const struct tbl *t, uint32_t key)
{
	size_t i = (key * 0x9E3779B1u) & (t->cap - 1);

	while (t->slot[i] && t->key[i] != key)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void *tbl_get(const struct tbl *t, uint32_t key)
{
	return t->cap ? t->slot[tbl_pos(t, key)] : NULL;
}

static int tbl_put(struct tbl *t, uint32_t key, void *v)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap) {
		struct tbl nt = {.cap = t->cap ? t->cap * 2 : 64};

		nt.slot = calloc(nt.cap, sizeof(*nt.slot));
		nt.key = calloc(nt.cap, sizeof(*nt.key));
		if (!nt.slot || !nt.key) {
			free(nt.slot);
			free(nt.key);
			return -ENOMEM;
		}
		for (i = 0; i < t->cap; i++) {
			if (t->slot[i]) {
				size_t j = tbl_pos(&nt, t->key[i]);

				nt.slot[j] = t->slot[i];
				nt.key[j] = t->key[i];
				nt.n++;
			}
		}
		free(t->slot);
		free(t->key);
		*t = nt;
	}
	i = tbl_pos(t, key);
	if (!t->slot[i])
		t->n++;
	t->slot[i] = v;
	t->key[i] = key;
	return 0;
}

static void thr_clear(struct thr *t)
{
	free(t->frames);
	free(t->kframes);
	t->frames = NULL;
	t->kframes = NULL;
	t->nframes = t->nkframes = 0;
	t->resolved = false;
}

static void proc_free(struct proc *p)
{
	pw_proc_syms__free(p->syms);
	pw_go_proc__free(p->go);
	free(p->seen);
	free(p);
}

/* Drop every entry not seen in the current scan: no phantoms, bounded memory. */
static void tbl_expire(struct tbl *t, unsigned scan, bool procs)
{
	struct tbl keep = {0};
	size_t i;

	for (i = 0; i < t->cap; i++) {
		void *v = t->slot[i];
		unsigned seen;

		if (!v)
			continue;
		seen = procs ? ((struct proc *)v)->scan : ((struct thr *)v)->scan;
		if (seen == scan && tbl_put(&keep, t->key[i], v) == 0)
			continue;
		if (procs) {
			proc_free(v);
		} else {
			thr_clear(v);
			free(v);
		}
	}
	free(t->slot);
	free(t->key);
	*t = keep;
}

int pw_collector__new(const struct pw_collect_opts *opts, struct pw_collector **out)
{
	struct pw_collector *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	*out = c;
	return 0;
}

void pw_collector__begin(struct pw_collector *c)
{
	c->scan++;
	c->nm = 0;
	c->parked = 0;
	c->parked_go = 0;
}

static void read_comm(uint32_t pid, char comm[16], const char *fallback)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (f && fgets(comm, 16, f)) {
		comm[strcspn(comm, "\n")] = 0;
		fclose(f);
		return;
	}
	if (f)
		fclose(f);
	/* The record's comm is 16 bytes with no NUL promised. */
	snprintf(comm, 16, "%.15s", fallback);
}

static struct proc *get_proc(struct pw_collector *c, const struct pw_task_rec *rec)
{
	struct proc *p = tbl_get(&c->procs, rec->tgid), *old = NULL;

	if (p && (p->start_time != rec->proc_start_time || p->exec_id != rec->exec_id)) {
		/*
		 * The pid was reused by a new process, or the process exec'd a new
		 * binary: never merge the two, and drop the old symbols.
		 */
		old = p;
		p = NULL;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || tbl_put(&c->procs, rec->tgid, p)) {
			free(p);
			return NULL;
		}
		/*
		 * Members of this scan may point at the old one (pid reused, or an
		 * exec, while the iterator ran): it is freed when the scan is done.
		 */
		if (old && old->scan == c->scan) {
			old->retired_next = c->retired;
			c->retired = old;
		} else if (old) {
			proc_free(old);
		}
		p->pid = rec->tgid;
		p->ns_pid = rec->ns_tgid;
		p->start_time = rec->proc_start_time;
		p->exec_id = rec->exec_id;
		read_comm(rec->tgid, p->comm, rec->comm);
		p->filtered_out = c->opts.comm && strcmp(c->opts.comm, p->comm) != 0;
	}
	p->scan = c->scan;
	return p;
}

static void free_retired(struct pw_collector *c)
{
	struct proc *p;

	struct thr *t;

	while ((p = c->retired)) {
		c->retired = p->retired_next;
		proc_free(p);
	}
	while ((t = c->retired_thrs)) {
		c->retired_thrs = t->retired_next;
		thr_clear(t);
		free(t);
	}
}

static struct pw_proc_syms *proc_syms(struct pw_collector *c, struct proc *p)
{
	if (!p->syms && !p->syms_failed) {
		p->syms = pw_proc_syms__new(p->pid);
		if (!p->syms) {
			p->syms_failed = true;
			if (errno == ESRCH || errno == ENOENT)
				c->drops.n[PW_DROP_PROC_GONE]++;
			else
				c->drops.n[PW_DROP_MODULE]++;
		}
	}
	return p->syms;
}

static int resolve(struct pw_collector *c, struct proc *p, struct thr *t,
		   const struct pw_task_rec *rec, const void *stack)
{
	struct pw_proc_syms *ps = proc_syms(c, p);
	struct pw_frame fr[PW_MAX_FRAMES];
	uint64_t pcs[PW_MAX_FRAMES];
	int npcs = 0, n = 0, i, k;

	if (ps && stack) {
		if (pw_proc_syms__unwind(ps, rec->tid, &rec->regs, stack, rec->stack_len,
					 rec->stack_base, pcs, PW_MAX_FRAMES, &npcs) < 0 ||
		    npcs < 2)
			c->drops.n[PW_DROP_UNWIND]++;
	} else if (rec->flags & (PW_F_IN_SYSCALL | PW_F_HAS_USTACK)) {
		/* No copy of the stack: the saved pc is all we know. */
		pcs[0] = rec->regs.ip;
		npcs = rec->regs.ip ? 1 : 0;
	}
	for (i = 0; i < npcs && n < PW_MAX_FRAMES; i++) {
		if (ps) {
			k = pw_proc_syms__symbolize(ps, pcs[i], i > 0, fr + n, PW_MAX_FRAMES - n);
			if (k > 0) {
				n += k;
				continue;
			}
		}
		memset(&fr[n], 0, sizeof(fr[n]));
		fr[n++].addr = pcs[i];
	}
	t->frames = n ? malloc(n * sizeof(*fr)) : NULL;
	if (n && !t->frames)
		return -ENOMEM;
	if (n)
		memcpy(t->frames, fr, n * sizeof(*fr));
	t->nframes = n;
	n = rec->kstack_len / sizeof(__u64);
	t->kframes = n ? calloc(n, sizeof(*t->kframes)) : NULL;
	for (i = 0; t->kframes && i < n; i++) {
		const char *name = pw_ksyms__name(c->opts.ksyms, rec->kstack[i]);
		char buf[32];

		if (!name) {
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)rec->kstack[i]);
			name = pw_intern(buf);
		}
		t->kframes[t->nkframes++] = name;
	}
	t->resolved = true;
	return 0;
}

static struct member *new_member(struct pw_collector *c)
{
	struct member *m;

	if (c->nm == c->capm) {
		size_t cap = c->capm ? c->capm * 2 : 1024;
		struct member *nm = realloc(c->m, cap * sizeof(*nm));

		if (!nm)
			return NULL;
		c->m = nm;
		c->capm = cap;
	}
	m = &c->m[c->nm++];
	memset(m, 0, sizeof(*m));
	return m;
}

int pw_collector__add(const struct pw_task_rec *rec, const void *stack, void *ctx)
{
	struct pw_collector *c = ctx;
	struct member *m;
	struct proc *p;
	struct thr *t;
	long nr;

	p = get_proc(c, rec);
	if (!p)
		return -ENOMEM;
	if (p->filtered_out)
		return 0;
	c->parked++;
	t = tbl_get(&c->thrs, rec->tid);
	if (t && (t->start_time != rec->start_time || t->seq != rec->park_seq)) {
		if (t->scan == c->scan) {
			/* A member of this scan still points at its frames: free them at finish. */
			t->retired_next = c->retired_thrs;
			c->retired_thrs = t;
			t = NULL;
		} else {
			thr_clear(t);
		}
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || tbl_put(&c->thrs, rec->tid, t)) {
			free(t);
			return -ENOMEM;
		}
	}
	t->tid = rec->tid;
	t->start_time = rec->start_time;
	t->seq = rec->park_seq;
	t->scan = c->scan;
	/*
	 * The iterator decided (in nanoseconds) whether this park is old enough
	 * for stacks; follow its decision so the two never disagree at the edge.
	 */
	if (!(rec->flags & (PW_F_HAS_USTACK | PW_F_USTACK_DONE | PW_F_USTACK_FAILED)) &&
	    (double)rec->age_ns / 1e9 < c->opts.min_age_s)
		return 0;
	if (!t->resolved) {
		int err = resolve(c, p, t, rec, stack);

		if (err)
			return err;
	}
	m = new_member(c);
	if (!m)
		return -ENOMEM;
	m->t = t;
	m->p = p;
	m->kind = PW_KIND_THREAD;
	m->frames = t->frames;
	m->nframes = t->nframes;
	m->kframes = t->kframes;
	m->nkframes = t->nkframes;
	m->age = rec->age_ns / 1e9;
	m->lower_bound = rec->flags & PW_F_AGE_LOWER_BOUND;
	m->ns_pid = rec->ns_tgid;
	nr = (rec->flags & PW_F_IN_SYSCALL) ? (long)rec->regs.orig_ax : -1;
	m->wait = pw_wait_kind(nr);
	/*
	 * The saved syscall arguments name the word, the op and whether there is
	 * a timeout, for threads parked before we attached too; the futex events,
	 * when on, saw the word itself (for futex_waitv, the first waiter's).
	 */
	if (nr == SYS_futex) {
		m->op = rec->regs.si;
		m->timed = rec->regs.r10 != 0;
	} else if (nr == SYS_futex_wait) {
		m->op = FUTEX_WAIT_BITSET;
		m->timed = rec->regs.r8 != 0;
	} else if (nr == SYS_futex_waitv) {
		m->op = FUTEX_WAIT_BITSET;
		m->timed = rec->regs.r10 != 0;
	}
	if (rec->flags & PW_F_FUTEX_EVENT) {
		m->word = rec->futex_uaddr;
		m->op = rec->futex_op;
		m->has_word = true;
	} else if (nr == SYS_futex || nr == SYS_futex_wait || nr == SYS_futex_waitv) {
		m->word = rec->regs.di;
		m->has_word = true;
	}
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path;
}

uint64_t pw_site_key(int pid, uint64_t proc_start, enum pw_kind kind, const char *wait,
		     const struct pw_frame *frames, int nframes, const char *const *kframes,
		     int nkframes)
{
	uint64_t h = pw_hash64(&pid, sizeof(pid), 0xcbf29ce484222325ULL);
	int i;

	h = pw_hash64(&proc_start, sizeof(proc_start), h);
	h = pw_hash64(&kind, sizeof(kind), h);
	if (wait)
		h = pw_hash64(wait, strlen(wait), h);
	for (i = 0; i < nframes; i++) {
		/* Module-relative offsets: stable across ASLR and across scans. */
		const char *mod = basename_of(frames[i].module);
		uint64_t off = mod ? frames[i].offset : frames[i].addr;

		if (mod)
			h = pw_hash64(mod, strlen(mod), h);
		h = pw_hash64(&off, sizeof(off), h);
	}
	/* Without user frames, the kernel stack tells waits apart. */
	for (i = 0; !nframes && i < nkframes; i++)
		h = pw_hash64(kframes[i], strlen(kframes[i]), h);
	return h;
}

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->age > y->age ? -1 : x->age < y->age;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int fill_site(const struct pw_collector *c, struct pw_site *s, struct member *m, size_t n)
{
	uint64_t *words;
	size_t i, nw = 0;
	int li;

	memset(s, 0, sizeof(*s));
	s->id = m[0].key;
	s->kind = m[0].kind;
	s->pid = m[0].p->pid;
	s->ns_pid = m[0].ns_pid;
	memcpy(s->comm, m[0].p->comm, sizeof(s->comm));
	s->wait = m[0].wait;
	s->count = n;
	/* Members are sorted oldest first. */
	s->oldest_age_s = m[0].age;
	s->median_age_s = n % 2 ? m[n / 2].age : (m[n / 2 - 1].age + m[n / 2].age) / 2;
	words = calloc(n, sizeof(*words));
	if (!words)
		return -ENOMEM;
	if (m[0].has_word) {
		char op[96];

		pw_futex_op_format(m[0].op, op, sizeof(op));
		s->futex_op = pw_intern(op);
	}
	for (i = 0; i < n; i++) {
		s->timed_waits += m[i].timed;
		if (m[i].lower_bound)
			s->age_is_lower_bound = true;
		if (m[i].has_word)
			words[nw++] = m[i].word;
	}
	qsort(words, nw, sizeof(*words), cmp_u64);
	s->has_futex_counts = c->opts.futex_counts != NULL && s->kind == PW_KIND_THREAD;
	for (i = 0; i < nw; i++) {
		struct pw_futex_val v;

		if (i > 0 && words[i] == words[i - 1])
			continue;
		s->futex_words++;
		if (c->opts.futex_counts &&
		    pw_tracer__futex_word(c->opts.futex_counts, s->pid, m[0].p->start_time,
					  words[i], &v) == 0) {
			s->futex_waits += v.waits;
			s->futex_wakes += v.wakes;
		}
	}
	free(words);
	if (m[0].nframes) {
		s->frames = malloc(m[0].nframes * sizeof(*s->frames));
		if (!s->frames)
			return -ENOMEM;
		memcpy(s->frames, m[0].frames, m[0].nframes * sizeof(*s->frames));
		s->nframes = m[0].nframes;
	}
	if (m[0].nkframes) {
		s->kframes = malloc(m[0].nkframes * sizeof(*s->kframes));
		if (!s->kframes)
			return -ENOMEM;
		memcpy(s->kframes, m[0].kframes, m[0].nkframes * sizeof(*s->kframes));
		s->nkframes = m[0].nkframes;
	}
	li = pw_site_label_index(s->frames, s->nframes);
	if (li >= 0) {
		char buf[512];

		pw_site_label_format(&s->frames[li], buf, sizeof(buf));
		s->label = pw_intern(buf);
		s->label_file = s->frames[li].file;
		s->label_line = s->frames[li].line;
	}
	return 0;
}

/* A binary we could not read is a drop, and worth one line: its frames are bare addresses. */
static void count_bad_modules(struct pw_collector *c)
{
	size_t i;

	for (i = 0; i < c->procs.cap; i++) {
		struct proc *p = c->procs.slot[i];
		int nbad;

		if (!p || !p->syms || p->scan != c->scan)
			continue;
		nbad = pw_proc_syms__nbad_modules(p->syms);
		if (nbad <= p->nbad_seen)
			continue;
		c->drops.n[PW_DROP_MODULE] += nbad - p->nbad_seen;
		if (!c->opts.quiet)
			pw_err("pid %u (%s): %d mapped binar%s could not be read (corrupt or "
			       "truncated ELF); their frames show module+offset",
			       p->pid, p->comm, nbad, nbad == 1 ? "y" : "ies");
		p->nbad_seen = nbad;
	}
}

static int cmp_seen(const void *a, const void *b)
{
	uint64_t x = ((const struct go_seen *)a)->goid, y = ((const struct go_seen *)b)->goid;

	return x < y ? -1 : x > y;
}

static const struct go_seen *find_seen(const struct proc *p, uint64_t goid)
{
	size_t lo = 0, hi = p->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->seen[mid].goid == goid)
			return &p->seen[mid];
		if (p->seen[mid].goid < goid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Where a goroutine is parked, beyond its id: its stack pointer and its frames. */
static uint64_t park_sig(const struct pw_goroutine *g)
{
	uint64_t h = pw_hash64(&g->sp, sizeof(g->sp), 0x84222325cbf29ce4ULL);
	int i;

	for (i = 0; i < g->nframes; i++)
		h = pw_hash64(&g->frames[i].addr, sizeof(g->frames[i].addr), h);
	if (g->wait_reason)
		h = pw_hash64(g->wait_reason, strlen(g->wait_reason), h);
	return h;
}

/* Attach to p's Go runtime once; false (and one line where it helps) when there is none. */
static bool go_attach(struct pw_collector *c, struct proc *p)
{
	char why[256] = "";
	int err;

	if (p->go)
		return true;
	if (p->go_failed)
		return false;
	err = pw_go_proc__new(p->pid, &p->go, why, sizeof(why));
	if (!err)
		return true;
	p->go_failed = true;
	if (err == -ESRCH) {
		c->drops.n[PW_DROP_PROC_GONE]++;
		return false;
	}
	if (err == -ENOTSUP) {
		/* Not Go (or a kernel thread): nothing was lost. */
		if (c->opts.goroutines == PW_GO_ON && !c->opts.quiet)
			pw_err("pid %u (%s): not a Go binary; thread sites only", p->pid, p->comm);
		return false;
	}
	/* A Go binary we cannot read (unsupported release, corrupt, no access): say so once. */
	c->drops.n[PW_DROP_GO_PROC]++;
	if (!c->opts.quiet)
		pw_err("pid %u (%s): goroutines not read: %s; thread sites only", p->pid, p->comm,
		       why[0] ? why : strerror(-err));
	return false;
}

static int scan_go_proc(struct pw_collector *c, struct proc *p, double now)
{
	struct pw_go_stats st = {0};
	struct pw_goroutine *gs = NULL;
	struct go_seen *seen;
	int n = 0, i, err;

	err = pw_go_proc__scan(p->go, &gs, &n, &st);
	c->drops.n[PW_DROP_GOROUTINE] += st.bad_g + st.read_errors;
	c->drops.n[PW_DROP_UNWIND] += st.unwind_errors;
	if (err) {
		if (err == -ENOMEM)
			return err;
		if (err == -ESRCH) {
			c->drops.n[PW_DROP_PROC_GONE]++;
			return 0;
		}
		c->drops.n[PW_DROP_GO_PROC]++;
		if (!p->go_warned && !c->opts.quiet)
			pw_err("pid %u (%s): cannot read its goroutine list: %s", p->pid, p->comm,
			       strerror(-err));
		p->go_warned = true;
		return 0;
	}
	seen = n ? calloc(n, sizeof(*seen)) : NULL;
	if (n && !seen) {
		free(gs);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct pw_goroutine *g = &gs[i];
		const struct go_seen *old = find_seen(p, g->goid);
		struct member *m;
		bool lower_bound;
		double age;

		seen[i].goid = g->goid;
		seen[i].sig = park_sig(g);
		seen[i].waitsince = g->waitsince_ns;
		/*
		 * Same goroutine, same place, and the runtime's waitsince has not
		 * moved (running clears it, the next GC stamps it anew): still the
		 * same park as far as anyone outside can tell.
		 */
		if (old && old->sig == seen[i].sig &&
		    (!old->waitsince || old->waitsince == g->waitsince_ns))
			seen[i].first = old->first;
		else
			seen[i].first = now;
		c->parked_go++;
		/* The runtime's age once a GC has stamped it, else a lower bound: since we saw it.
		 */
		lower_bound = g->waitsince_ns <= 0;
		age = lower_bound ? now - seen[i].first : now - g->waitsince_ns / 1e9;
		if (age < 0)
			age = 0;
		/* Like threads: a known-young park is counted, not sited. */
		if (!lower_bound && age < c->opts.min_age_s)
			continue;
		m = new_member(c);
		if (!m) {
			free(seen);
			free(gs);
			return -ENOMEM;
		}
		m->p = p;
		m->kind = PW_KIND_GOROUTINE;
		m->frames = g->frames;
		m->nframes = g->nframes;
		m->ns_pid = p->ns_pid;
		m->wait = g->wait_reason ? g->wait_reason : pw_intern("unknown");
		m->age = age;
		m->lower_bound = lower_bound;
	}
	free(gs);
	qsort(seen, n, sizeof(*seen), cmp_seen);
	free(p->seen);
	p->seen = seen;
	p->nseen = n;
	return 0;
}

/* Goroutines of the Go processes among those with parked threads in this scan. */
static int scan_goroutines(struct pw_collector *c)
{
	double now = pw_mono_s();
	size_t i;
	int err;

	for (i = 0; i < c->procs.cap; i++) {
		struct proc *p = c->procs.slot[i];

		if (!p || p->scan != c->scan || p->filtered_out || !go_attach(c, p))
			continue;
		err = scan_go_proc(c, p, now);
		if (err)
			return err;
	}
	return 0;
}

int pw_collector__finish(struct pw_collector *c, struct pw_snapshot *snap)
{
	size_t i, j, nsites = 0;
	int err = 0;

	memset(snap, 0, sizeof(*snap));
	if (c->opts.goroutines != PW_GO_OFF) {
		err = scan_goroutines(c);
		if (err)
			return err;
	}
	for (i = 0; i < c->nm; i++) {
		struct member *m = &c->m[i];

		m->key = pw_site_key(m->p->pid, m->p->start_time, m->kind, m->wait, m->frames,
				     m->nframes, m->kframes, m->nkframes);
	}
	if (c->nm) /* qsort(NULL, 0) is undefined behaviour */
		qsort(c->m, c->nm, sizeof(*c->m), cmp_member);
	for (i = 0; i < c->nm; i++)
		if (i == 0 || c->m[i].key != c->m[i - 1].key)
			nsites++;
	snap->sites = nsites ? calloc(nsites, sizeof(*snap->sites)) : NULL;
	if (nsites && !snap->sites)
		return -ENOMEM;
	for (i = 0; i < c->nm && !err; i = j) {
		for (j = i + 1; j < c->nm && c->m[j].key == c->m[i].key; j++)
			;
		err = fill_site(c, &snap->sites[snap->nsites++], &c->m[i], j - i);
	}
	count_bad_modules(c);
	free_retired(c);
	snap->parked_threads = c->parked;
	snap->parked_goroutines = c->parked_go;
	snap->drops = c->drops;
	tbl_expire(&c->thrs, c->scan, false);
	tbl_expire(&c->procs, c->scan, true);
	return err;
}

const struct pw_drops *pw_collector__drops(const struct pw_collector *c)
{
	return &c->drops;
}

bool pw_collector__saw_pid(const struct pw_collector *c, int pid)
{
	const struct proc *p = tbl_get(&c->procs, pid);

	return p && p->scan == c->scan;
}

void pw_collector__free(struct pw_collector *c)
{
	if (!c)
		return;
	c->scan++;
	tbl_expire(&c->thrs, c->scan, false);
	tbl_expire(&c->procs, c->scan, true);
	free_retired(c);
	free(c->m);
	free(c);
}

void pw_snapshot__free(struct pw_snapshot *s)
{
	int i;

	for (i = 0; i < s->nsites; i++) {
		free(s->sites[i].frames);
		free(s->sites[i].kframes);
	}
	free(s->sites);
	s->sites = NULL;
	s->nsites = 0;
}
