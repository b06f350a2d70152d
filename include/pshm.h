/*
 * pshm.h — POSIX shared memory on Linux, easy to learn, safe to use, fast.
 *
 * The whole public contract of libpshm. Conventions:
 *  - Every function returns 0 (or a non-negative count) on success and a
 *    negative errno value on failure. pshm_strerror() describes any of them.
 *  - The library never prints, never exits and keeps no global state, with
 *    one documented exception: the SIGBUS guard of pshm_seg_read().
 *  - Handles are opaque; a handle is used by one thread at a time unless its
 *    section says otherwise.
 *  - Shared memory is untrusted input: whatever another process wrote into a
 *    segment is validated before use, and a hostile segment yields an error
 *    code (-EPROTO, -EBADMSG, ...), never a crash.
 *
 * Error codes used across the library:
 *   -EINVAL        bad argument or bad segment name
 *   -ENAMETOOLONG  segment name longer than PSHM_NAME_MAX
 *   -ENOENT        no such segment
 *   -EEXIST        the segment already exists (exclusive create)
 *   -EACCES        permission denied by the file mode
 *   -EPERM         refused by pshm's owner/mode policy (see PSHM_ALLOW_*)
 *   -ENOTSUP       the name is not a regular file (symlink, directory, FIFO)
 *   -ENOSPC        /dev/shm is full
 *   -EFBIG         size too large for this system
 *   -EFAULT        the segment was truncated under a guarded read (SIGBUS)
 *   -EBADMSG       integrity check failed (checksum mismatch)
 *   -EPROTO        the segment is not of the expected pshm format
 *   -EAGAIN        try again (non-blocking call, or a writer is mid-update)
 *   -ETIMEDOUT     a bounded wait expired
 *   -EPIPE         the peer is gone
 *   -EMSGSIZE      message larger than the channel can ever carry
 *   -ENOMEM        out of memory
 */
#ifndef PSHM_H
#define PSHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PSHM_VERSION_MAJOR 0
#define PSHM_VERSION_MINOR 1
#define PSHM_VERSION_PATCH 0
#define PSHM_VERSION_STRING "0.1.0"

/** The library's version string, e.g. "0.1.0" (may differ from the header's). */
const char *pshm_version(void);

/**
 * A message for an error code returned by pshm (negative) or an errno
 * value (positive). Never NULL; the string is static and must not be freed.
 * Codes with a pshm-specific meaning (-EBADMSG, -EPROTO, -EPERM, -EFAULT,
 * -ENOTSUP, -EPIPE) get a message that says what happened in pshm's terms.
 */
const char *pshm_strerror(int err);

/* ------------------------------------------------------------------------
 * Names
 *
 * A segment name is what shm_open(3) takes: "posix_shm" and "/posix_shm"
 * are the same segment, shown as /dev/shm/posix_shm. Refused with -EINVAL:
 * NULL, empty, "/", ".", "..", or any '/' after the optional leading one.
 * Refused with -ENAMETOOLONG: more than PSHM_NAME_MAX bytes without the
 * leading '/'.
 * ------------------------------------------------------------------------ */

#define PSHM_NAME_MAX 255

/** Check a segment name. Returns 0, -EINVAL or -ENAMETOOLONG. */
int pshm_name_check(const char *name);

/**
 * Write the canonical form of @name ("/x") into @buf of @len bytes.
 * Returns its length (without the NUL), -EINVAL/-ENAMETOOLONG for a bad
 * name, or -ERANGE when @buf is too small (PSHM_NAME_MAX + 2 always fits).
 */
int pshm_name_canon(const char *name, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Segments
 *
 * A pshm_seg is a mapped shared-memory segment: named (in /dev/shm) or
 * anonymous (shared with children across fork()). The mapping covers the
 * whole segment as it was when created, opened or last resized.
 * ------------------------------------------------------------------------ */

typedef struct pshm_seg pshm_seg;

/** Flags for pshm_seg_create() and pshm_seg_open(). */
enum pshm_seg_flags {
	/** create: if the segment exists, open it instead of failing with
	 *  -EEXIST (the open policy flags below then apply to it). */
	PSHM_OPEN_EXISTING = 1u << 0,
	/** open: map read-only (PROT_READ); the default maps read-write. */
	PSHM_RDONLY = 1u << 1,
	/** open: accept a segment owned by another user. Refused by default
	 *  with -EPERM: another user may have created the name first
	 *  ("squatting") to feed you data or read yours. */
	PSHM_ALLOW_FOREIGN = 1u << 2,
	/** open: accept a segment writable by group or others. Refused by
	 *  default with -EPERM: anyone in that group may change the data. */
	PSHM_ALLOW_SHARED_WRITE = 1u << 3,
	/** open: do not map, only open; pshm_seg_addr() then returns NULL.
	 *  For callers that read through pshm_seg_pread() only. */
	PSHM_NOMAP = 1u << 4,
};

/**
 * Create the segment @name of @size bytes with permissions @mode (0 means
 * 0600), map it read-write and return it in @out.
 *
 * Exclusive by default: fails with -EEXIST if the name exists, unless
 * @flags has PSHM_OPEN_EXISTING, in which case an existing segment is
 * opened as by pshm_seg_open() (policy checks included) and grown to @size
 * if smaller. The space is reserved up front (posix_fallocate), so a full
 * /dev/shm fails here with -ENOSPC rather than with SIGBUS later; a
 * failed create leaves no segment behind.
 *
 * Errors: -EINVAL (bad name, size 0, bad flags), -ENAMETOOLONG, -EEXIST,
 * -EACCES, -EPERM, -ENOTSUP, -ENOSPC, -EFBIG, -ENOMEM, -EMFILE.
 */
int pshm_seg_create(const char *name, size_t size, mode_t mode, unsigned flags,
		    pshm_seg **out);

/**
 * Open the existing segment @name and map it whole (read-only with
 * PSHM_RDONLY). The size comes from fstat(). Never creates, never resizes,
 * never follows a symlink. By default refuses, with -EPERM, a segment owned
 * by another user or writable by group/others (see PSHM_ALLOW_*); root is
 * not exempt. A segment of size 0 opens and has no mapping.
 *
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES, -EPERM, -ENOTSUP (not a
 * regular file), -ENOMEM, -EMFILE.
 */
int pshm_seg_open(const char *name, unsigned flags, pshm_seg **out);

/**
 * Create an anonymous shared segment of @size bytes (MAP_SHARED |
 * MAP_ANONYMOUS): no name, no file, gone when the last process unmaps it.
 * Children created by fork() after this call share it.
 * Errors: -EINVAL (size 0), -ENOMEM.
 */
int pshm_seg_anon(size_t size, pshm_seg **out);

/** Unmap and close @seg (NULL is a no-op). The named segment stays. */
void pshm_seg_close(pshm_seg *seg);

/** Start of the mapping (NULL when unmapped: size 0 or PSHM_NOMAP). */
void *pshm_seg_addr(const pshm_seg *seg);
/** Size of the mapping in bytes (the segment's size when last looked at). */
size_t pshm_seg_size(const pshm_seg *seg);
/** The segment's file descriptor (-1 for an anonymous segment). */
int pshm_seg_fd(const pshm_seg *seg);
/** The canonical name ("/x"), or NULL for an anonymous segment. */
const char *pshm_seg_name(const pshm_seg *seg);

/**
 * Resize the named segment to @size bytes (reserving the space when it
 * grows) and remap it; pshm_seg_addr() may change. Other processes keep
 * their old mapping: touching it beyond a new, smaller end is SIGBUS for
 * them, which is what pshm_seg_read() guards against.
 * Errors: -EINVAL (anonymous segment, size 0), -EBADF (read-only),
 * -ENOSPC, -EFBIG, -ENOMEM.
 */
int pshm_seg_resize(pshm_seg *seg, size_t size);

/**
 * Copy @len bytes at @off of the mapping into @buf, surviving a concurrent
 * truncation by another process: a SIGBUS during the copy makes it return
 * -EFAULT instead of killing the process. Returns -ERANGE if [off, off+len)
 * is outside the mapping.
 *
 * Process-wide side effect (the documented exception to "no global state"):
 * the first call installs a SIGBUS handler with sigaction(2). It handles
 * only faults inside a guarded copy of the calling thread and passes any
 * other SIGBUS on to the handler that was installed before it (or to the
 * default action). Thread-safe.
 */
int pshm_seg_read(const pshm_seg *seg, size_t off, void *buf, size_t len);

/**
 * Read up to @len bytes at @off straight from the segment's file (pread(2),
 * no mapping involved, so truncation shows as a short read, never SIGBUS).
 * Returns the number of bytes read (0 at the end) or -errno.
 * -EINVAL for an anonymous segment.
 */
ssize_t pshm_seg_pread(const pshm_seg *seg, void *buf, size_t len, uint64_t off);

/**
 * Write @len bytes at @off into the segment's file (pwrite(2)). Writing past
 * the end grows the segment. Returns the number of bytes written (a short
 * count when /dev/shm fills up part way) or -errno (-ENOSPC when nothing
 * could be written, -EBADF if opened read-only).
 */
ssize_t pshm_seg_pwrite(pshm_seg *seg, const void *buf, size_t len, uint64_t off);

/**
 * Remove the name @name. Mappings and descriptors already open stay valid.
 * Refuses (-ENOTSUP) to remove anything that is not a regular file, and
 * never follows a symlink. Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES,
 * -EPERM, -ENOTSUP.
 */
int pshm_seg_unlink(const char *name);

/** What a segment holds, as recognised from its first bytes. */
enum pshm_kind {
	PSHM_KIND_RAW = 0,   /**< a regular file that is not a pshm format */
	PSHM_KIND_BOX = 1,   /**< a pshm box (see Boxes) */
	PSHM_KIND_CHAN = 2,  /**< a pshm channel (see Channels) */
	PSHM_KIND_OTHER = 3, /**< not a regular file: symlink, directory, FIFO... */
};

/** What pshm_seg_stat() reports: one entry of /dev/shm, not followed. */
struct pshm_stat {
	char name[PSHM_NAME_MAX + 2]; /**< canonical name, "/x" */
	uint64_t size;       /**< st_size: the segment's size in bytes */
	uint64_t allocated;  /**< st_blocks * 512: memory actually in use */
	uid_t uid;           /**< owner */
	gid_t gid;           /**< group */
	mode_t mode;         /**< st_mode: file type and permission bits */
	int64_t atime_sec, mtime_sec, ctime_sec; /**< times, seconds since the epoch */
	long atime_nsec, mtime_nsec, ctime_nsec; /**< their nanoseconds */
	unsigned kind;       /**< enum pshm_kind */
};

/**
 * Describe the entry @name of /dev/shm without following a symlink and
 * without opening anything but a regular file (to recognise its kind).
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES.
 */
int pshm_seg_stat(const char *name, struct pshm_stat *st);

/**
 * List every entry of /dev/shm except POSIX semaphores ("sem.*"): regular
 * files and, with kind PSHM_KIND_OTHER, anything else found there (never
 * followed). On success *@out is an array of the returned count, sorted by
 * name, to be released with free(). Errors: -ENOMEM, -EACCES.
 */
ssize_t pshm_seg_list(struct pshm_stat **out);

/** How a process uses a segment (bit flags of struct pshm_user.how). */
enum pshm_use {
	PSHM_USE_MAP = 1u << 0, /**< it maps the segment (/proc/PID/maps) */
	PSHM_USE_FD = 1u << 1,  /**< it holds a descriptor to it (/proc/PID/fd) */
};

/** One process that uses a segment. */
struct pshm_user {
	pid_t pid;
	unsigned how;    /**< enum pshm_use bits */
	char comm[64];   /**< its command name (/proc/PID/comm) */
};

/**
 * Find the processes that map @name or hold it open, from /proc. Processes
 * whose /proc entries the caller may not read are not seen. On success
 * *@out is an array of the returned count, sorted by pid, to be released
 * with free() (NULL when the count is 0). Errors: -EINVAL, -ENAMETOOLONG,
 * -ENOMEM.
 */
ssize_t pshm_seg_users(const char *name, struct pshm_user **out);

/* ------------------------------------------------------------------------
 * Boxes
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Sealed snapshots
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Channels
 *
 * A channel is a message queue in a named segment: a ring of variable-size
 * messages with one consumer and one (SPSC) or many (MPSC) producers.
 * Messages of one producer arrive in order, none lost, duplicated or torn.
 * No system call on the fast path: a waiting side spins briefly, then
 * sleeps on a futex in the segment, and is woken only if it sleeps.
 *
 * Timeouts (nanoseconds) on every call that can wait: 0 tries once and
 * returns -EAGAIN, PSHM_FOREVER (any negative value) waits for ever, a
 * positive value bounds the wait and returns -ETIMEDOUT.
 *
 * Peers and crashes (pshm(7), CHANNELS, has the details):
 *  - A handle is used by one thread. Several producer handles, in threads
 *    of one process or in several processes, may share an MPSC channel.
 *  - Peers are recorded by pid and process start time, so a reused pid is
 *    never mistaken for a live peer. Peers must see the same /proc (share
 *    a pid namespace).
 *  - A producer killed at any point never makes a partial message visible;
 *    in MPSC the other producers go on and the consumer skips the dead
 *    producer's unfinished message.
 *  - -EPIPE: for the consumer, when the ring is empty and every producer
 *    it has seen (or that attached after it) is gone; for a producer, when
 *    the ring is full and the consumer it has seen (or one that attached
 *    after it) is gone. A peer that never came is waited for. "Gone" is
 *    noticed within about 20 ms (checked while waiting).
 *  - Delivery: a message is delivered exactly once, except the message a
 *    consumer had received with pshm_chan_peek() but not released when it
 *    died or closed: the next consumer gets it again (at least once). A
 *    message whose pshm_chan_send() had not returned when its producer died
 *    may be lost, never delivered in part.
 *  - A wait that a signal interrupts returns -EINTR (only for handlers
 *    installed without SA_RESTART; others restart the wait).
 * ------------------------------------------------------------------------ */

typedef struct pshm_chan pshm_chan;

#define PSHM_FOREVER ((int64_t)-1)

/** How long a PSHM_WAIT_BLOCK handle spins before it sleeps, by default. */
#define PSHM_SPIN_DEFAULT_NS 4000

/** Topology, fixed at creation. */
enum pshm_chan_mode {
	PSHM_CHAN_SPSC = 0, /**< one producer, one consumer */
	PSHM_CHAN_MPSC = 1, /**< many producers, one consumer */
};

/** Role of a handle, chosen at pshm_chan_open(). */
enum pshm_chan_role {
	PSHM_PRODUCER = 1,
	PSHM_CONSUMER = 2,
};

/** How a handle waits (pshm_chan_set_wait()). */
enum pshm_chan_wait {
	PSHM_WAIT_BLOCK = 0, /**< spin up to spin_ns, then sleep on a futex (default) */
	PSHM_WAIT_POLL = 1,  /**< busy-poll: never sleep (lowest latency, burns a core) */
};

/** Parameters of pshm_chan_create(); zero fields take the defaults. */
struct pshm_chan_config {
	size_t ring_size;        /**< ring bytes, a power of two from 1 KiB to 2 GiB
				      (default 1 MiB) */
	size_t max_msg;          /**< largest message in bytes (default ring_size / 4;
				      at most ring_size - 16) */
	unsigned mode;           /**< enum pshm_chan_mode (default SPSC) */
	unsigned max_producers;  /**< MPSC: producers attached at once, 1 to 64
				      (default 64); SPSC: 0 or 1 */
	mode_t perm;             /**< permissions (default 0600) */
};

/** One attached peer, as pshm_chan_stat() reports it. */
struct pshm_chan_peer {
	pid_t pid;
	unsigned role;  /**< enum pshm_chan_role */
	int alive;      /**< 1 if the process still exists, 0 if it is gone */
};

/** A channel's state, as pshm_chan_stat() reports it: a snapshot taken
 *  while peers may be working, so the counts may be a message apart. */
struct pshm_chan_info {
	unsigned mode;          /**< enum pshm_chan_mode */
	uint64_t ring_size;     /**< bytes of the ring */
	uint64_t max_msg;       /**< largest message */
	uint64_t used;          /**< bytes in the ring now (fill level) */
	uint64_t pending;       /**< messages waiting to be received */
	uint64_t sent;          /**< messages committed since creation */
	uint64_t received;      /**< messages released since creation */
	unsigned max_producers; /**< producer slots (1 for SPSC) */
	unsigned n_peers;       /**< entries filled in peers[] */
	struct pshm_chan_peer peers[65]; /**< the consumer first, then producers */
};

/**
 * Create the channel @name (exclusive; -EEXIST if it exists). Its header
 * is complete before the name appears. Does not attach: open it next.
 * @cfg may be NULL for the defaults.
 * Errors: -EINVAL (bad name or config), -ENAMETOOLONG, -EEXIST, -EACCES,
 * -ENOSPC, -ENOMEM.
 */
int pshm_chan_create(const char *name, const struct pshm_chan_config *cfg);

/**
 * Attach to the channel @name as @role (PSHM_PRODUCER or PSHM_CONSUMER).
 * @flags takes the PSHM_ALLOW_* policy flags of pshm_seg_open(). A second
 * live consumer, or a second producer on an SPSC channel, gets -EBUSY; the
 * slot of a dead one is taken over. A new consumer starts after the last
 * released message; a new SPSC producer after the last published one. The
 * header is validated: -EPROTO for a segment that is not a channel or
 * whose header is inconsistent. The segment is faulted in at once, so the
 * fast path takes no page faults.
 * Errors: those of pshm_seg_open(), -EINVAL (bad role or flags), -EPROTO,
 * -EBUSY, -EUSERS (MPSC table full), -ENOMEM.
 */
int pshm_chan_open(const char *name, unsigned role, unsigned flags, pshm_chan **out);

/** Detach and close (NULL is a no-op). A producer's pending reservation is
 *  dropped; a consumer's peeked message stays unreleased and goes to the
 *  next consumer (see pshm(7)). */
void pshm_chan_close(pshm_chan *ch);

/** Choose how @ch waits: PSHM_WAIT_BLOCK spins @spin_ns then sleeps
 *  (spin_ns 0: sleep at once); PSHM_WAIT_POLL never sleeps (@spin_ns is
 *  ignored). Errors: -EINVAL (NULL handle, unknown @wait). */
int pshm_chan_set_wait(pshm_chan *ch, unsigned wait, uint64_t spin_ns);

/** The largest message @ch carries (the channel's max_msg). */
size_t pshm_chan_max_msg(const pshm_chan *ch);

/** Copy @len bytes of @msg into the channel as one message (0 bytes is a
 *  valid, empty message). Waits while the ring is full.
 *  Errors: -EAGAIN, -ETIMEDOUT, -EINTR, -EMSGSIZE (len > max_msg), -EPIPE
 *  (the consumer is gone), -EPROTO (corrupted indices), -EBUSY (a
 *  reservation is open), -EINVAL (not a producer, NULL @msg with @len). */
int pshm_chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns);

/** Receive the next message into @buf of @cap bytes; returns its length.
 *  Consumes a message already peeked at. -EMSGSIZE if @cap is too small
 *  (the message stays queued). Errors: -EAGAIN, -ETIMEDOUT, -EINTR,
 *  -EPIPE (ring empty and the producers gone), -EBADMSG (a corrupted
 *  record), -EPROTO (corrupted indices), -EFAULT (the segment was
 *  truncated under a large copy), -EINVAL (not the consumer). */
ssize_t pshm_chan_recv(pshm_chan *ch, void *buf, size_t cap, int64_t timeout_ns);

/** Zero-copy send: reserve @len bytes in the ring and return their address
 *  in *@ptr; write the message there, then pshm_chan_commit(). Nothing is
 *  visible to the consumer before the commit. Errors as pshm_chan_send(),
 *  and -EBUSY if a reservation is already open. */
int pshm_chan_reserve(pshm_chan *ch, size_t len, void **ptr, int64_t timeout_ns);
/** Publish the reserved message, shortened to @len (<= the reserved size).
 *  Errors: -EINVAL (no reservation open, @len too large, not a producer). */
int pshm_chan_commit(pshm_chan *ch, size_t len);

/** Zero-copy receive: the next message stays in the ring; *@ptr points at
 *  it (read-only, valid until pshm_chan_release()). Returns its length.
 *  Peeking again without releasing returns the same message. The bytes
 *  live in shared memory: a hostile producer may still change them, so
 *  copy what must not change under you. Errors as pshm_chan_recv(). */
ssize_t pshm_chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns);
/** Release the peeked message, freeing its space for producers.
 *  Errors: -EINVAL (nothing peeked, not the consumer). */
int pshm_chan_release(pshm_chan *ch);

/** Describe the channel @name without attaching (read-only; any owner's
 *  channel may be described). Errors: those of pshm_seg_open(), -EPROTO
 *  (not a channel, inconsistent header), -EFAULT (truncated while read),
 *  -EINVAL (NULL @info). */
int pshm_chan_stat(const char *name, struct pshm_chan_info *info);

#ifdef __cplusplus
}
#endif

#endif /* PSHM_H */
