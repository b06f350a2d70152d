/* SPDX-License-Identifier: MIT */
/*
 * cli/service.c — `pshm service create|stat|rm`, `pshm serve`, `pshm call`.
 *
 * serve answers each request of a service with a command: its standard
 * input the request, its standard output the reply (or, with --persistent,
 * one long-running command exchanging a line per request); call sends one
 * request and prints the reply. Together they put request/response behind
 * any shell pipeline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define NS_PER_S 1000000000.0
/* Waits are cut in slices this long, to notice SIGINT and SIGTERM. */
#define SLICE_NS INT64_C(100000000)

static int64_t secs_ns(double s)
{
	return s * NS_PER_S >= (double)INT64_MAX ? PSHM_FOREVER : (int64_t)(s * NS_PER_S);
}

/* When @name is not a service, what it is ("is a channel, not a service"). */
static const char *not_service(const char *name, char *buf, size_t len)
{
	return cli_kind_mismatch(name, PSHM_KIND_SERVICE, buf, len);
}

/* Why attaching to the service @name failed, in the most useful words. */
static int open_fail(const char *action, const char *name, int err, unsigned role,
		     unsigned flags)
{
	char why[512];
	struct pshm_service_info in;
	if (err == -EPROTO && not_service(name, why, sizeof(why)))
		return cli_failn(action, name, "%s: refused", why);
	if (err == -EUSERS && pshm_service_stat(name, &in) == 0)
		return cli_failn(action, name, "all %u %s slots are held by live processes",
				 role == PSHM_SERVER ? in.max_servers : in.max_clients,
				 role == PSHM_SERVER ? "server" : "client");
	return cli_seg_fail(action, name, err, flags);
}

static int svc_attach(const char *action, const char *name, unsigned role, unsigned flags,
		      pshm_service **s)
{
	int r = pshm_service_open(name, role, flags, s);
	return r < 0 ? open_fail(action, name, r, role, flags) : 0;
}

/* ---- pshm service create ------------------------------------------------ */

static const struct cli_optdoc create_opts[] = {
	{ CLI_O_MAX_MSG, "largest request and largest reply (default 4K,\n"
			 "at most 16M)" },
	{ CLI_O_CLIENTS, "clients attached at once (1 to "
			 CLI_STR(PSHM_SERVICE_MAX_CLIENTS) ", default 64)" },
	{ CLI_O_SERVERS, "servers in the pool at once (1 to "
			 CLI_STR(PSHM_SERVICE_MAX_SERVERS) ", default 8)" },
	{ CLI_O_MODE, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd create_cmd = {
	"service create", "NAME [--max-msg SIZE] [--clients N] [--servers N] [--mode MODE]",
	"Create a service (it must not exist): requests from clients (pshm call),\n"
	"answered by servers (pshm serve). With a mode that lets others write\n"
	"(660, 666), they attach with --allow-shared-write.\n",
	create_opts, false, 1, 1, 0, "service name",
};

struct create_opts {
	struct pshm_service_config cfg;
	mode_t mode;
};

static int create_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct create_opts *o = ctx;
	uint64_t v = 0;
	int r;
	switch (id) {
	case CLI_O_MAX_MSG:
		r = cli_opt_number(&create_cmd, id, arg, 1, PSHM_SERVICE_MSG_MAX, &v);
		o->cfg.max_request = o->cfg.max_reply = (size_t)v;
		return r;
	case CLI_O_CLIENTS:
		r = cli_opt_count(&create_cmd, id, arg, 1, PSHM_SERVICE_MAX_CLIENTS, &v);
		o->cfg.max_clients = (unsigned)v;
		return r;
	case CLI_O_SERVERS:
		r = cli_opt_count(&create_cmd, id, arg, 1, PSHM_SERVICE_MAX_SERVERS, &v);
		o->cfg.max_servers = (unsigned)v;
		return r;
	default:
		return cli_opt_mode(&create_cmd, id, arg, &o->mode);
	}
}

static int svc_create(int argc, char **argv)
{
	struct create_opts o = { .mode = 0 };
	struct cli_args a;
	int r = cli_options(&create_cmd, argc, argv, create_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	r = pshm_service_create(name, &o.cfg, o.mode, 0);
	if (r == -EEXIST)
		return cli_failn("service create", name, "%s (pshm service rm removes it)",
				 pshm_strerror(r));
	return r < 0 ? cli_seg_fail("service create", name, r, 0) : EXIT_OK;
}

/* ---- pshm service stat, rm ---------------------------------------------- */

static void stat_text(const char *name, const struct pshm_service_info *in)
{
	char q[16], p[16], esc[CLI_ESC_MAX];
	printf("%s: service\n", cli_esc(name, esc, sizeof(esc)));
	printf("  max msg   request %s, reply %s\n", cli_human(in->max_request, q, sizeof(q)),
	       cli_human(in->max_reply, p, sizeof(p)));
	printf("  servers   %u alive (of %u slots, %llu attached since creation)\n", in->servers,
	       in->max_servers, (unsigned long long)in->server_attaches);
	printf("  clients   %u alive (of %u slots, %u requests in flight each)\n", in->clients,
	       in->max_clients, in->max_inflight);
	printf("  requests  %llu queued, %llu in progress, %llu answered not collected\n",
	       (unsigned long long)in->queued, (unsigned long long)in->in_progress,
	       (unsigned long long)in->answered);
	printf("  served    %llu taken by servers, %llu late replies dropped\n",
	       (unsigned long long)in->requests, (unsigned long long)in->late_dropped);
}

static void stat_json(const char *name, const struct pshm_service_info *in)
{
	printf("{\"name\":");
	cli_json_str(name);
	printf(",\"kind\":\"service\",\"max_request\":%llu,\"max_reply\":%llu,\"max_clients\":%u,"
	       "\"max_servers\":%u,\"max_inflight\":%u,\"servers\":%u,\"clients\":%u,"
	       "\"queued\":%llu,\"in_progress\":%llu,\"answered\":%llu,\"requests\":%llu,"
	       "\"late_dropped\":%llu,\"server_attaches\":%llu,\"client_attaches\":%llu}\n",
	       (unsigned long long)in->max_request, (unsigned long long)in->max_reply,
	       in->max_clients, in->max_servers, in->max_inflight, in->servers, in->clients,
	       (unsigned long long)in->queued, (unsigned long long)in->in_progress,
	       (unsigned long long)in->answered, (unsigned long long)in->requests,
	       (unsigned long long)in->late_dropped, (unsigned long long)in->server_attaches,
	       (unsigned long long)in->client_attaches);
}

static const struct cli_optdoc json_opts[] = {
	{ CLI_O_JSON, NULL },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd stat_cmd = {
	"service stat", "[--json] NAME...",
	"Describe services: servers and clients alive, requests queued and in\n"
	"progress, late replies dropped.\n",
	json_opts, false, 1, -1, 0, "service name",
};

static const struct cli_cmd rm_cmd = {
	"service rm", "NAME...",
	"Remove services (only services: anything else is left alone). Attached\n"
	"servers and clients keep working with each other.\n",
	NULL, false, 1, -1, 0, "service name",
};

/* The kind-aware failure of @action on @name. */
static int name_fail(const char *action, const char *name, int r)
{
	char why[512];
	if (r == -EPROTO && not_service(name, why, sizeof(why)))
		return cli_failn(action, name, "%s: refused", why);
	return cli_seg_fail(action, name, r, 0);
}

static int svc_stat(int argc, char **argv)
{
	bool on[CLI_O_COUNT_OF] = { false };
	struct cli_args a;
	int r = cli_options(&stat_cmd, argc, argv, cli_opt_flag, on, &a);
	if (r >= 0)
		return r;
	int status = EXIT_OK;
	for (int i = 0; i < a.n; i++) {
		struct pshm_service_info info;
		char canon[PSHM_NAME_MAX + 2];
		r = pshm_service_stat(a.v[i], &info);
		if (r == 0)
			r = pshm_name_canon(a.v[i], canon, sizeof(canon)) < 0 ? -EINVAL : 0;
		if (r < 0)
			status = name_fail("service stat", a.v[i], r);
		else if (on[CLI_O_JSON])
			stat_json(canon, &info);
		else
			stat_text(canon, &info);
	}
	int out = cli_finish_stdout("service stat", a.v[0]);
	return status != EXIT_OK ? status : out;
}

static int svc_rm(int argc, char **argv)
{
	return cli_kind_rm(&rm_cmd, PSHM_KIND_SERVICE, pshm_service_unlink, argc, argv);
}

static void service_usage(FILE *f)
{
	fprintf(f, "usage: pshm service <create|stat|rm> [options] NAME\n\n"
		   "Services: request/response between processes (see also pshm serve,\n"
		   "pshm call).\n\n"
		   "  create NAME [--max-msg 4K] [--clients N] [--servers N] [--mode MODE]\n"
		   "                                  create a service\n"
		   "  stat NAME...                    describe services\n"
		   "  rm NAME...                      remove services\n"
		   "  -h, --help                      this help\n\n"
		   "'pshm service <verb> --help' describes a verb.\n");
}

int cmd_service(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "create", svc_create },
		{ "stat", svc_stat },
		{ "rm", svc_rm },
		{ NULL, NULL },
	};
	return cli_verbs("service", argc, argv, verbs, service_usage);
}

/* ---- pshm call ---------------------------------------------------------- */

static const struct cli_optdoc call_opts[] = {
	{ CLI_O_TIMEOUT, "give up when no reply came within SECONDS\n"
			 "(default: wait for ever): 0.5, 90s, 10m, 2h, 7d" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd call_cmd = {
	"call", "[--timeout SECONDS] NAME [REQUEST | -]",
	"Send REQUEST to the service NAME (with '-' or no REQUEST, all of standard\n"
	"input) and print the reply, followed by a newline unless it ends with\n"
	"one. Fails if the server that took the request dies, or if the service\n"
	"had servers and none is left.\n",
	call_opts, true, 1, 2, 0, "service name",
};

static int call_timeout_opt(void *ctx, enum cli_opt id, const char *arg)
{
	double secs;
	int r = cli_opt_duration(&call_cmd, id, arg, &secs);
	if (r == 0)
		*(int64_t *)ctx = secs_ns(secs);
	return r;
}

/* Wait for the reply to @id in slices until @timeout; its length or -errno. */
static ssize_t await(pshm_service *s, uint64_t id, char *buf, size_t cap, int64_t timeout)
{
	for (int64_t waited = 0;;) {
		int64_t slice = timeout >= 0 && timeout - waited < SLICE_NS ? timeout - waited
									    : SLICE_NS;
		uint64_t got = id;
		ssize_t n = pshm_service_collect(s, &got, buf, cap, slice);
		if (n != -ETIMEDOUT && n != -EINTR && n != -EAGAIN)
			return n;
		waited += slice;
		if (cli_stop || (timeout >= 0 && waited >= timeout)) {
			pshm_service_cancel(s, id);
			return cli_stop ? -EINTR : -ETIMEDOUT;
		}
	}
}

static int call_report(const char *name, ssize_t n, const char *reply, size_t max)
{
	char sz[48];
	switch (n) {
	case -EREMOTEIO:
		return cli_failn("call", name, "the server failed: %s", reply);
	case -EPIPE:
		return cli_failn("call", name, "no reply: the server is gone");
	case -ETIMEDOUT:
		return cli_failn("call", name, "timed out waiting for the reply");
	case -EINTR:
		return cli_failn("call", name, "interrupted");
	case -EMSGSIZE:
		return cli_failn("call", name, "the request is too large (the service takes at "
				 "most %s)", cli_size_words(max, sz, sizeof(sz)));
	default:
		return cli_fail("call", name, (int)n);
	}
}

int cmd_call(int argc, char **argv)
{
	int64_t timeout = PSHM_FOREVER;
	struct cli_args a;
	int r = cli_options(&call_cmd, argc, argv, call_timeout_opt, &timeout, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	char *req = NULL;
	size_t len = 0;
	if (a.n == 1 || !strcmp(a.v[1], "-")) {
		if ((r = cli_read_all(0, &req, &len)) < 0)
			return cli_failn("read standard input for", name, "%s", strerror(-r));
	} else {
		len = strlen(a.v[1]);
	}
	pshm_service *s;
	if ((r = svc_attach("call", name, PSHM_CLIENT, a.flags, &s))) {
		free(req);
		return r;
	}
	cli_catch_stop();
	size_t cap = pshm_service_max_reply(s);
	char *reply = malloc(cap + 1);
	uint64_t id = 0;
	ssize_t n = reply ? pshm_service_send(s, req ? req : a.v[1], len, &id) : -ENOMEM;
	if (n == 0)
		n = await(s, id, reply, cap + 1, timeout);
	int status;
	if (n < 0) {
		status = call_report(name, n, reply ? reply : "", pshm_service_max_request(s));
	} else {
		r = cli_write_all(1, reply, (size_t)n);
		if (r == 0 && (n == 0 || reply[n - 1] != '\n'))
			r = cli_write_all(1, "\n", 1);
		status = r < 0 ? cli_out_fail("call", name, r) : EXIT_OK;
	}
	pshm_service_close(s);
	free(reply);
	free(req);
	return status;
}

/* ---- pshm serve ----------------------------------------------------------- */

static const struct cli_optdoc serve_opts[] = {
	{ CLI_O_PERSISTENT, "run CMD once and exchange one line per request\n"
			    "(the request, then its reply, each ending in a\n"
			    "newline) instead of once per request" },
	{ CLI_O_COUNT, "stop after answering N requests" },
	{ CLI_O_END, NULL },
};

static const struct cli_cmd serve_cmd = {
	"serve", "[--persistent] [-n N] NAME [--] CMD [ARGS...]",
	"Answer the requests of the service NAME with CMD: for each request,\n"
	"run CMD with the request on its standard input; what it writes on its\n"
	"standard output is the reply. A CMD that fails (exit status not 0, or a\n"
	"reply larger than the service takes) makes the call fail with its\n"
	"reason. Runs until interrupted (SIGINT, SIGTERM) or -n requests.\n",
	serve_opts, true, 2, -1, 2, "service name",
};

struct serve_opts {
	bool persistent;
	uint64_t count;
};

static int serve_opt(void *ctx, enum cli_opt id, const char *arg)
{
	struct serve_opts *o = ctx;
	if (id == CLI_O_PERSISTENT) {
		o->persistent = true;
		return 0;
	}
	return cli_opt_count(&serve_cmd, id, arg, 1, UINT64_MAX, &o->count);
}

/* Start @argv with pipes on its standard input (*@in) and output (*@out). */
static pid_t spawn(char **argv, int *in, int *out)
{
	int pi[2], po[2];
	if (pipe2(pi, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(po, O_CLOEXEC) < 0) {
		close(pi[0]);
		close(pi[1]);
		return -1;
	}
	pid_t p = fork();
	if (p == 0) {
		dup2(pi[0], 0);
		dup2(po[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "pshm: serve: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	if (p < 0) {
		close(pi[1]);
		close(po[0]);
		return -1;
	}
	*in = pi[1];
	*out = po[0];
	return p;
}

/* Feed @req to @in (then close it) while reading @out into @buf (up to
 * @cap; the rest is drained): *@got bytes, true if it all fit. */
static bool exchange(int in, int out, const char *req, size_t len, char *buf, size_t cap,
		     size_t *got)
{
	size_t sent = 0;
	bool fits = true;
	*got = 0;
	if (len == 0) {
		close(in);
		in = -1;
	}
	while (out >= 0) {
		struct pollfd p[2] = { { out, POLLIN, 0 }, { in, POLLOUT, 0 } };
		if (poll(p, in >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (in >= 0 && p[1].revents) {
			ssize_t n = write(in, req + sent, len - sent);
			if (n > 0)
				sent += (size_t)n;
			if (n < 0 || sent == len) {
				close(in);
				in = -1;
			}
		}
		if (p[0].revents) {
			char sink[4096];
			char *dst = *got < cap ? buf + *got : sink;
			size_t room = *got < cap ? cap - *got : sizeof(sink);
			ssize_t n = read(out, dst, room);
			if (n <= 0)
				break;
			if (dst == sink)
				fits = false;
			else
				*got += (size_t)n;
		}
	}
	if (in >= 0)
		close(in);
	close(out);
	return fits;
}

/* Answer @id with one run of CMD. */
static int answer_once(pshm_service *s, uint64_t id, char **cmd, const char *req, size_t len,
		       char *buf, size_t cap)
{
	int in, out, ws;
	char why[128];
	pid_t p = spawn(cmd, &in, &out);
	if (p < 0)
		return pshm_service_fail(s, id, "cannot start the command");
	size_t got;
	bool fits = exchange(in, out, req, len, buf, cap, &got);
	while (waitpid(p, &ws, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(ws))
		snprintf(why, sizeof(why), "the command was killed by signal %d", WTERMSIG(ws));
	else if (WEXITSTATUS(ws))
		snprintf(why, sizeof(why), "the command exited with status %d", WEXITSTATUS(ws));
	else if (!fits)
		snprintf(why, sizeof(why), "the reply is larger than the service takes (%zu bytes)",
			 cap);
	else
		return pshm_service_reply(s, id, buf, got);
	return pshm_service_fail(s, id, why);
}

struct worker {
	pid_t pid;
	int in;
	FILE *out;
};

/* Answer @id with a line exchanged with the persistent CMD: -EPIPE once it
 * is gone (the request is failed first). */
static int answer_line(pshm_service *s, uint64_t id, struct worker *w, const char *req,
		       size_t len, char **line, size_t *lcap)
{
	if (memchr(req, '\n', len))
		return pshm_service_fail(s, id, "with --persistent, a request is one line: "
					 "it cannot contain a newline");
	if (cli_write_all(w->in, req, len) < 0 || cli_write_all(w->in, "\n", 1) < 0) {
		pshm_service_fail(s, id, "the command is gone");
		return -EPIPE;
	}
	ssize_t n = getline(line, lcap, w->out);
	if (n <= 0) {
		pshm_service_fail(s, id, "the command is gone");
		return -EPIPE;
	}
	if ((*line)[n - 1] == '\n')
		n--;
	if ((size_t)n > pshm_service_max_reply(s))
		return pshm_service_fail(s, id, "the reply is larger than the service takes");
	return pshm_service_reply(s, id, *line, (size_t)n);
}

static int serve_loop(pshm_service *s, const char *name, char **cmd, const struct serve_opts *o,
		      struct worker *w)
{
	size_t qcap = pshm_service_max_request(s), pcap = pshm_service_max_reply(s), lcap = 0;
	char *req = malloc(qcap + 1), *buf = malloc(pcap), *line = NULL;
	int status = req && buf ? EXIT_OK : cli_fail("serve", name, -ENOMEM);
	for (uint64_t done = 0; status == EXIT_OK && !cli_stop && (!o->count || done < o->count);) {
		struct pshm_service_req rq;
		ssize_t n = pshm_service_recv(s, req, qcap, &rq, SLICE_NS);
		if (n == -ETIMEDOUT || n == -EINTR || n == -EBADMSG)
			continue;
		if (n < 0) {
			status = cli_fail("serve", name, (int)n);
			break;
		}
		int r = w ? answer_line(s, rq.id, w, req, (size_t)n, &line, &lcap)
			  : answer_once(s, rq.id, cmd, req, (size_t)n, buf, pcap);
		if (r == -EPIPE)
			status = cli_failn("serve", name, "the command '%s' is gone", cmd[0]);
		else if (r < 0 && r != -ECANCELED)
			status = cli_fail("serve", name, r);
		done++;
	}
	free(line);
	free(buf);
	free(req);
	return status;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = { 0 };
	struct cli_args a;
	int r = cli_options(&serve_cmd, argc, argv, serve_opt, &o, &a);
	if (r >= 0)
		return r;
	const char *name = a.v[0];
	/* CMD and its arguments, NULL-terminated for execvp(). */
	char **cmd = calloc((size_t)a.n, sizeof(*cmd));
	if (!cmd)
		return cli_fail("serve", name, -ENOMEM);
	memcpy(cmd, a.v + 1, (size_t)(a.n - 1) * sizeof(*cmd));
	pshm_service *s;
	if ((r = svc_attach("serve", name, PSHM_SERVER, a.flags, &s))) {
		free(cmd);
		return r;
	}
	cli_catch_stop();
	signal(SIGPIPE, SIG_IGN);
	struct worker w = { .pid = -1, .in = -1 };
	int status = EXIT_OK;
	if (o.persistent) {
		int out;
		w.pid = spawn(cmd, &w.in, &out);
		w.out = w.pid < 0 ? NULL : fdopen(out, "r");
		if (!w.out) {
			status = cli_failn("serve", name, "cannot start '%s': %s", cmd[0],
					   strerror(errno));
			if (w.pid > 0) { /* fdopen failed: nothing else owns out */
				close(out);
				close(w.in);
				kill(w.pid, SIGTERM);
				while (waitpid(w.pid, NULL, 0) < 0 && errno == EINTR)
					;
				w.pid = -1;
			}
		}
	}
	if (status == EXIT_OK)
		status = serve_loop(s, name, cmd, &o, o.persistent ? &w : NULL);
	pshm_service_close(s);
	if (w.pid > 0) {
		close(w.in);
		fclose(w.out);
		while (waitpid(w.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(cmd);
	return status;
}
