/* SPDX-License-Identifier: MIT */
/*
 * pshm.h — POSIX shared memory on Linux, easy to learn, safe to use, fast.
 *
 * The whole public contract of libpshm. Conventions:
 *  - Every function returns 0 (or a non-negative count) on success and a
 *    negative errno value on failure. pshm_strerror() describes any of them.
 *  - The library never prints, never exits and keeps no global state, with
 *    these documented process-wide effects: the SIGBUS handler installed by
 *    the first guarded read (pshm_seg_read(), boxes, channels, topics,
 *    services); the membarrier(2) registration made by the first
 *    pshm_chan_open(); the speed choices (spin, copy method) measured once
 *    per process at the first pshm_chan_open() or pshm_chan_tuning(), with
 *    a helper thread for about 1 ms, and the environment variables
 *    PSHM_SPIN_NS and PSHM_COPY read then (pshm_chan_tuning(3)); and the
 *    thread that pshm_topic_fd() starts for its subscriber.
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
 *   -EFAULT        the segment was truncated under a guarded access (SIGBUS)
 *   -EBADMSG       integrity check failed (checksum mismatch)
 *   -EPROTO        the segment is not of the expected pshm format
 *   -ENODATA       the segment's file is sparse: it has holes where its
 *                  header claims data (refused before anything reads it
 *                  through a mapping, which would allocate the holes)
 *   -ENOLCK        the filesystem refuses the liveness locks (channels,
 *                  box writers: see pshm(7), "Liveness")
 *   -EAGAIN        try again (non-blocking call, or a writer is mid-update)
 *   -ETIMEDOUT     a bounded wait expired
 *   -EPIPE         the peer is gone
 *   -EMSGSIZE      message or value larger than the channel or box can carry
 *   -EBUSY         the role or reservation is already taken (channels)
 *   -EUSERS        no free producer slot (MPSC channels)
 *   -EINTR         a wait was interrupted by a signal (channels)
 *   -ERANGE        offset/length outside the segment, or buffer too small
 *   -ESTALE        the segment is no longer the one that was examined
 *   -ENOMEM        out of memory
 *   -EMFILE        too many open files
 *
 * Argument order: the object first, then a buffer and its length; an
 * offset or a timeout comes last (pshm_seg_read/pread/pwrite,
 * pshm_chan_send...), and so does the handle a create or open returns.
 * Flags are the bits of enum pshm_flags.
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
#define PSHM_VERSION_MINOR 3
#define PSHM_VERSION_PATCH 0
#define PSHM_VERSION_STRING "0.3.0"

/** The library's version string, e.g. "0.2.0" (may differ from the header's). */
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
 * NULL, empty, "/", ".", "..", or any '/' after the optional leading one
 * (so "../etc/passwd" and "a/b" never reach outside /dev/shm). Refused
 * with -ENAMETOOLONG: more than PSHM_NAME_MAX bytes without the leading
 * '/'. Any other byte is allowed, as by shm_open(); names starting with
 * "sem." are where glibc keeps named semaphores and are best avoided.
 * Pure functions: no system call, thread-safe.
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
 *
 * Named segments are opened relative to /dev/shm with O_NOFOLLOW and
 * checked with fstat() to be regular files before anything is mapped,
 * read, written or removed: a symlink, directory, FIFO or device planted
 * in /dev/shm gets -ENOTSUP and is never followed or opened (a FIFO is
 * not even opened, so nothing blocks). Descriptors are close-on-exec.
 * A handle is used by one thread at a time; different handles, and the
 * functions that take a name, are thread-safe.
 * ------------------------------------------------------------------------ */

typedef struct pshm_seg pshm_seg;

/**
 * Every flag of the library, one set of bits: each function lists the ones
 * it takes and refuses any other with -EINVAL.
 */
enum pshm_flags {
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
	/** pshm_box_open(): open even when the header is not a valid box
	 *  header, so that pshm_box_read_unverified() and pshm_box_verify()
	 *  can look at what is there. pshm_box_read() and pshm_box_write()
	 *  still check, and fail. */
	PSHM_BOX_UNCHECKED = 1u << 8,
};

/**
 * Create the segment @name of @size bytes with permissions @mode (0 means
 * 0600; the mode is set exactly, the umask does not narrow it), map it
 * read-write and return it in @out (set to NULL on failure).
 *
 * Exclusive by default: fails with -EEXIST if the name exists (-ENOTSUP if
 * what exists is not a regular file), unless @flags has PSHM_OPEN_EXISTING,
 * in which case an existing segment is opened as by pshm_seg_open() (policy
 * checks and PSHM_ALLOW_* included) and grown to @size if smaller, never
 * shrunk. PSHM_RDONLY and PSHM_NOMAP are ignored: a created segment is
 * always mapped read-write. The space is reserved up front
 * (posix_fallocate), so a full /dev/shm fails here with -ENOSPC rather
 * than with SIGBUS later; a failed create leaves no segment behind.
 *
 * Errors: -EINVAL (bad name, size 0, mode above 07777, unknown flags),
 * -ENAMETOOLONG, -EEXIST, -EACCES, -EPERM, -ENOTSUP, -ENOSPC, -EFBIG,
 * -ENOMEM, -EMFILE.
 */
int pshm_seg_create(const char *name, size_t size, mode_t mode, unsigned flags,
		    pshm_seg **out);

/**
 * Open the existing segment @name and map it whole (read-only with
 * PSHM_RDONLY; not at all with PSHM_NOMAP). The size comes from fstat().
 * Never creates, never resizes, never follows a symlink. By default
 * refuses, with -EPERM, a segment owned by another user or writable by
 * group/others (see PSHM_ALLOW_*), read-only or not; root is not exempt.
 * A segment of size 0 opens and has no mapping. *@out is NULL on failure.
 *
 * Errors: -EINVAL (bad name, unknown flags), -ENAMETOOLONG, -ENOENT,
 * -EACCES (the file mode forbids it), -EPERM (the policy), -ENOTSUP (not a
 * regular file), -EFBIG, -ENOMEM, -EMFILE.
 */
int pshm_seg_open(const char *name, unsigned flags, pshm_seg **out);

/**
 * Would pshm_seg_open(@name, @flags) pass the owner/mode policy? Looks at
 * the entry without opening or following it. Returns 0 if it would, or
 * -EPERM if not, with *@missing (may be NULL) set to the PSHM_ALLOW_* flags
 * not in @flags that would let it pass (both for a 0666 segment of another
 * user opened without either; only PSHM_ALLOW_SHARED_WRITE for one's own
 * 0666 segment opened with PSHM_ALLOW_FOREIGN). *@missing is 0 whenever
 * the result is not -EPERM. For explaining an -EPERM after the fact: the
 * answer describes the entry as it is now, which may have changed since.
 *
 * @flags: any of enum pshm_flags (only PSHM_ALLOW_* matter).
 * Errors: -EINVAL (bad name, unknown flags), -ENAMETOOLONG, -ENOENT,
 * -EACCES (/dev/shm cannot be searched), -ENOTSUP (not a regular file),
 * -EPERM.
 */
int pshm_seg_check(const char *name, unsigned flags, unsigned *missing);

/**
 * Create an anonymous shared segment of @size bytes (MAP_SHARED |
 * MAP_ANONYMOUS): no name, no file, gone when the last process unmaps it.
 * Children created by fork() after this call share it.
 * Errors: -EINVAL (size 0, NULL @out), -ENOMEM.
 */
int pshm_seg_anon(size_t size, pshm_seg **out);

/** Unmap and close @seg (NULL is a no-op). The named segment stays.
 *  Keeps errno as it was. */
void pshm_seg_close(pshm_seg *seg);

/** Start of the mapping (NULL when unmapped: size 0, PSHM_NOMAP, or a NULL
 *  @seg). */
void *pshm_seg_addr(const pshm_seg *seg);
/** Size of the mapping in bytes (the segment's size when last looked at;
 *  0 for a NULL @seg). */
size_t pshm_seg_size(const pshm_seg *seg);
/** The segment's file descriptor (-1 for an anonymous segment or NULL). */
int pshm_seg_fd(const pshm_seg *seg);
/** The canonical name ("/x"), or NULL for an anonymous segment or NULL. */
const char *pshm_seg_name(const pshm_seg *seg);

/**
 * Resize the named segment to @size bytes (reserving the space when it
 * grows) and remap it; pshm_seg_addr() may change (a PSHM_NOMAP handle
 * stays unmapped, whatever its size). Other processes keep their old
 * mapping: touching it beyond a new, smaller end is SIGBUS for them, which
 * is what pshm_seg_read() guards against. On failure the segment keeps its
 * size and the handle maps it whole, as before (if the remap fails after
 * the file was grown, the file is shrunk back). One case cannot be undone:
 * when a shrink has unmapped the tail and the file then cannot be
 * truncated nor the tail mapped again, the file keeps its size and the
 * handle maps only @size bytes (pshm_seg_size() says so).
 * Errors: -EINVAL (NULL, anonymous segment, size 0), -EBADF (read-only),
 * -ENOSPC, -EFBIG, -ENOMEM.
 */
int pshm_seg_resize(pshm_seg *seg, size_t size);

/**
 * Copy @len bytes at @off of the mapping into @buf (the argument order of
 * pshm_seg_pread() and pshm_seg_pwrite()), surviving a concurrent
 * truncation by another process: a SIGBUS during the copy makes it return
 * -EFAULT instead of killing the process (@buf then holds part of the
 * data). Returns 0, -ERANGE if [off, off+len) is outside the mapping,
 * -EINVAL for a NULL @seg, a NULL @buf with @len > 0, or a handle opened
 * with PSHM_NOMAP (use pshm_seg_pread()), -EFAULT as said. @buf must be
 * private memory.
 *
 * Process-wide side effect (the documented exception to "no global state"):
 * the first call installs a SIGBUS handler with sigaction(2). It handles
 * only faults inside a guarded copy of the calling thread and passes any
 * other SIGBUS on to the handler that was installed before it (or to the
 * default action, which kills). A handler installed later that does not
 * chain to the one it replaced disables the guard. Thread-safe.
 */
int pshm_seg_read(const pshm_seg *seg, void *buf, size_t len, uint64_t off);

/**
 * Copy @len bytes from shared memory at @src into private @dst under the
 * same guard as pshm_seg_read(): the way to copy a message that
 * pshm_chan_peek() or pshm_topic_peek() points at (or any bytes of a
 * mapping another process may truncate) without risking SIGBUS. Returns
 * 0, -EFAULT if the pages under @src vanished during the copy (@dst then
 * holds part of the data), -EINVAL for a NULL pointer with @len > 0 or a
 * range that wraps. Installs the SIGBUS handler as pshm_seg_read() says.
 * Only @src is guarded: @dst must be private memory (to forward a message
 * into another ring, copy it through a private buffer, or send it with
 * the receiving library call, which guards its own ring).
 */
int pshm_guarded_copy(void *dst, const void *src, size_t len);

/**
 * Read up to @len bytes at @off straight from the segment's file (pread(2),
 * no mapping involved, so truncation shows as a short read, never SIGBUS).
 * Returns the number of bytes read (0 at the end) or -errno.
 * -EINVAL for NULL, an anonymous segment, or @off above INT64_MAX.
 */
ssize_t pshm_seg_pread(const pshm_seg *seg, void *buf, size_t len, uint64_t off);

/**
 * Write @len bytes at @off into the segment's file (pwrite(2)). Writing past
 * the end grows the segment (the mapping keeps its size: see
 * pshm_seg_resize()). Returns the number of bytes written (a short count
 * when /dev/shm fills up part way; writing the rest then returns the
 * error) or -errno: -ENOSPC when nothing could be written, -EBADF if opened
 * read-only, -EINVAL for NULL, an anonymous segment or an offset past
 * INT64_MAX.
 */
ssize_t pshm_seg_pwrite(pshm_seg *seg, const void *buf, size_t len, uint64_t off);

/**
 * Remove the name @name. Mappings and descriptors already open stay valid.
 * Refuses (-ENOTSUP) to remove anything that is not a regular file, and
 * never follows a symlink. Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES,
 * -EPERM (another user's segment: /dev/shm is a sticky directory),
 * -ENOTSUP.
 */
int pshm_seg_unlink(const char *name);

/** What a segment holds, as recognised from its first bytes. */
enum pshm_kind {
	PSHM_KIND_RAW = 0,   /**< a regular file that is not a pshm format */
	PSHM_KIND_BOX = 1,   /**< a pshm box (see Boxes) */
	PSHM_KIND_CHAN = 2,  /**< a pshm channel (see Channels) */
	PSHM_KIND_OTHER = 3, /**< not a regular file: symlink, directory, FIFO... */
	PSHM_KIND_TOPIC = 4, /**< a pshm topic (see Topics) */
	PSHM_KIND_SERVICE = 5, /**< a pshm service (see Services) */
};

/**
 * The kind of the segment open in @seg (PSHM_KIND_RAW, _BOX, _CHAN, _TOPIC
 * or _SERVICE), read from its first 8 bytes with pread(2) on the
 * handle's own descriptor: it describes the file actually opened, whatever
 * the name refers to now. A segment too short or unreadable is
 * PSHM_KIND_RAW. Errors: -EINVAL (@seg NULL or anonymous).
 */
int pshm_seg_kind(const pshm_seg *seg);

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
	uint64_t dev, ino;   /**< st_dev, st_ino: the segment's identity, for
				  pshm_seg_count_users() */
};

/**
 * Describe the entry @name of /dev/shm without following a symlink and
 * without opening anything but a regular file (read-only, to recognise its
 * kind from its first 8 bytes; one the caller may not read stays
 * PSHM_KIND_RAW). Works on any entry: a symlink, directory or FIFO is
 * described (kind PSHM_KIND_OTHER), not refused.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES.
 */
int pshm_seg_stat(const char *name, struct pshm_stat *st);

/**
 * Remove the name @name only if it still is the very file @st described
 * (as filled by pshm_seg_stat() or pshm_seg_list(): same dev and ino) and
 * the file is unchanged since (same size and mtime). Otherwise -ESTALE,
 * and nothing is removed: what was examined is not what would be removed
 * (the name was replaced, or the segment was written or resized since).
 * For removing what a decision was made about, such as `pshm gc` does.
 * Never follows a symlink; refuses anything but a regular file.
 * @st->name is not used: @name is the entry removed.
 *
 * The check and the removal are two steps: only someone allowed to
 * replace the name (its owner or root, /dev/shm being sticky) can swap it
 * in between.
 *
 * Errors: -EINVAL (bad name, NULL @st), -ENAMETOOLONG, -ENOENT, -ENOTSUP,
 * -ESTALE, -EACCES, -EPERM (another user's segment: /dev/shm is sticky).
 */
int pshm_seg_unlink_same(const char *name, const struct pshm_stat *st);

/**
 * List every entry of /dev/shm except POSIX semaphores ("sem.*"): regular
 * files and, with kind PSHM_KIND_OTHER, anything else found there (never
 * followed). On success *@out is an array of the returned count, sorted by
 * name (strcmp), to be released with free() (NULL when the count is 0).
 * An entry removed while the list is made is left out.
 * Errors: -EINVAL (NULL @out), -ENOMEM, -EACCES.
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
 * Find the processes that map @name or hold it open, from /proc/PID/maps
 * and /proc/PID/fd (matched by device and inode, so a process that maps
 * the segment under an old name is found too; the caller itself is
 * included if it uses it). On success *@out is an array of the returned
 * count, sorted by pid, to be released with free() (NULL when the count
 * is 0).
 *
 * The scan can only see what /proc lets the caller read. *@complete (may
 * be NULL) is set to 1 when every process listed in /proc could be
 * inspected, and to 0 when some could not: other users' processes when the
 * caller is not root, or processes that /proc hides (hidepid); the result
 * may then miss users, so "no user" is not a proof that nobody uses the
 * segment. Processes outside the caller's PID namespace are never seen.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -ENOMEM, or an error opening
 * /proc.
 */
ssize_t pshm_seg_users(const char *name, struct pshm_user **out, int *complete);

/**
 * Count the users of many segments at once, with one scan of /proc: for
 * each of the @n entries of @v (as filled by pshm_seg_list() or
 * pshm_seg_stat()), @counts[i] gets the number of processes that map v[i]
 * or hold it open (matched by v[i].dev and v[i].ino), or -1 when v[i] is
 * not a regular file. *@complete (may be NULL) as for pshm_seg_users().
 * Returns 0, or -EINVAL (NULL @v or @counts with @n > 0), -ENOMEM, or an
 * error opening /proc.
 */
int pshm_seg_count_users(const struct pshm_stat *v, size_t n, long *counts, int *complete);

/**
 * pshm_seg_count_users(), and for each entry whether a process that the
 * scan could not inspect may be using it: @unseen[i] (@unseen may be NULL)
 * is set to 1 when one may, to 0 when none may. A process may use v[i]
 * unseen when it runs as v[i]'s owner (by any of its real, effective,
 * saved or filesystem user ids: a non-dumpable process of the caller's own
 * user is one), when who it runs as could not be read, or, for every
 * entry, when the caller is not in the initial PID namespace (a
 * container: processes outside it are invisible) or /proc hides
 * processes. Other users' processes are taken not to use what they may
 * not open: the caller weighs v[i].mode against *@complete. On an error
 * every @unseen[i] is 1 and every @counts[i] -1. Running out of
 * descriptors or memory while scanning fails the scan (-EMFILE, -ENFILE,
 * -ENOMEM): it is not taken as a blind spot.
 */
int pshm_seg_scan(const struct pshm_stat *v, size_t n, long *counts, int *unseen, int *complete);

/**
 * Is a libpshm handle open on @name, in any process, in any PID namespace?
 * Every handle that libpshm opens on a named segment (pshm_seg_open(),
 * pshm_seg_create(), boxes, channels) holds a shared OFD byte-range lock on
 * the segment's file for the handle's lifetime, far past any data
 * (pshm(7), "Liveness"); the kernel drops it when the handle is closed or
 * its process exits, even before the process is reaped. This asks whether
 * anyone holds that lock, through a file description of its own, so the
 * caller's own handles count too. It proves "in use", never "unused": a
 * program that maps the segment without libpshm holds no such lock (see
 * pshm_seg_users()). Needs read permission on the segment.
 * Returns 1 (a handle is open), 0 (none), or -EINVAL, -ENAMETOOLONG,
 * -ENOENT, -EACCES, -ENOTSUP (not a regular file), or the -errno of the
 * lock query (-EINVAL, -ENOLCK: the filesystem has no such locks).
 */
int pshm_seg_held(const char *name);

/* ------------------------------------------------------------------------
 * Boxes
 *
 * A box is a named segment that holds one value: up to `capacity` bytes,
 * fixed at creation, behind a 64-byte header (magic, format version,
 * capacity, total size, sequence number, length, CRC-32C). Its header is
 * complete before its name appears in /dev/shm.
 *
 * Writers take turns (a seqlock whose sequence word doubles as the writer
 * lock and names the writer); readers never block writers and
 * never return a torn value: a reader that overlaps a write retries, a
 * bounded number of times, then returns -EAGAIN. Every read checks the
 * header and the CRC-32C, so bytes changed behind pshm's back (dd, a
 * stray pointer) give -EBADMSG instead of a wrong value.
 *
 * A writer that dies mid-write leaves the sequence odd: readers notice that
 * the writer is gone and return -EAGAIN at once; the next write takes the
 * box over and repairs it. A writer is recognised by a liveness lock that
 * its handle takes before its first write and holds until it is closed
 * (pshm(7), "Liveness"), not by a pid: writers in other PID namespaces
 * are seen alive while they run, and one killed but not yet reaped is
 * dead. A fork() child that writes through its parent's handle takes a
 * writer id of its own (through a file description of its own), but while
 * it lives it also keeps the parent's lock held: a parent that dies
 * mid-write is then seen alive until the child exits.
 *
 * Thread safety: a pshm_box handle may be used by several threads at once
 * for reads, writes and pshm_box_verify(); only pshm_box_close() must not
 * race with anything else on the same handle. Any number of processes may
 * open the same box.
 *
 * Bounds: a read waits at most about 0.2 s for writers, a write at most
 * about 2 s for another writer, then both return -EAGAIN.
 * ------------------------------------------------------------------------ */

typedef struct pshm_box pshm_box;

/** Largest capacity of a box, in bytes (1 TiB). */
#define PSHM_BOX_MAX_CAPACITY ((uint64_t)1 << 40)

/**
 * Create the box @name for values of up to @capacity bytes, with
 * permissions @mode (0 means 0600), holding the empty value, and return it
 * opened read-write in @out. The segment is 64 + @capacity bytes, reserved
 * up front. Exclusive: -EEXIST if the name exists (whoever made it: a name
 * squatted by another user is never used), unless @flags has
 * PSHM_OPEN_EXISTING, in which case an existing box is opened as by
 * pshm_box_open() with the same @flags (its capacity is then whatever it
 * was created with: see pshm_box_capacity()).
 *
 * @flags: PSHM_OPEN_EXISTING, PSHM_ALLOW_FOREIGN, PSHM_ALLOW_SHARED_WRITE.
 * Errors: -EINVAL (bad name, capacity 0, unknown flag, NULL @out),
 * -ENAMETOOLONG, -EFBIG (capacity > PSHM_BOX_MAX_CAPACITY), -EEXIST,
 * -ENOTSUP (the name is a symlink, directory or FIFO), -EACCES, -ENOSPC,
 * -ENOMEM, -EMFILE; with PSHM_OPEN_EXISTING also those of pshm_box_open()
 * (-EPERM, -EPROTO, -EFAULT, ...).
 */
int pshm_box_create(const char *name, size_t capacity, mode_t mode, unsigned flags,
		    pshm_box **out);

/**
 * Open the existing box @name (read-write, or read-only with PSHM_RDONLY)
 * and check its header. The owner/mode policy of pshm_seg_open() applies:
 * a box owned by another user, or writable by group or others, is refused
 * with -EPERM unless @flags has PSHM_ALLOW_FOREIGN / PSHM_ALLOW_SHARED_WRITE.
 * Symlinks, directories, FIFOs... are never followed or opened (-ENOTSUP).
 *
 * @flags: PSHM_RDONLY, PSHM_ALLOW_FOREIGN, PSHM_ALLOW_SHARED_WRITE,
 * PSHM_BOX_UNCHECKED.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES, -EPERM, -ENOTSUP,
 * -EPROTO (not a box: wrong magic, version or header size, capacity larger
 * than the segment, nonzero reserved bytes), -ENODATA (the file has holes
 * over the header and capacity: a sparse box, refused before its value is
 * read through the mapping), -EFAULT (truncated while being opened),
 * -ENOMEM, -EMFILE.
 */
int pshm_box_open(const char *name, unsigned flags, pshm_box **out);

/**
 * Remove the box @name: only if it is a box (recognised by its magic
 * number, as pshm_seg_stat() reports PSHM_KIND_BOX), and only if the name
 * still refers to the file that was checked (as pshm_seg_unlink_same()).
 * Handles already open stay valid. Applies no owner/mode policy: who may
 * remove a name is the kernel's decision (the owner, or root).
 *
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -ENOTSUP (not a regular file),
 * -EACCES (the file cannot be read to check its kind), -EPROTO (not a
 * box: nothing removed), -ESTALE (replaced while being checked), -EPERM
 * (another user's box: /dev/shm is sticky), -EMFILE.
 */
int pshm_box_unlink(const char *name);

/** Unmap and close @box (NULL is a no-op). The box itself stays. */
void pshm_box_close(pshm_box *box);

/** Capacity of @box in bytes (0 for NULL, or for a box opened
 *  PSHM_BOX_UNCHECKED whose header is not valid). A buffer of this size
 *  always fits a read. */
size_t pshm_box_capacity(const pshm_box *box);

/**
 * Store @len bytes of @data as the box's new value (@len 0 stores the empty
 * value). Waits for another writer at most about 2 s. Takes over from a
 * writer that died mid-write, which repairs the box.
 *
 * Stores through a mapping do not update a tmpfs file's modification time,
 * so a successful write also sets it (futimens(2)), at most about once a
 * second per handle: the mtime of a box in use is never more than about a
 * second behind its last write, and `pshm gc` does not take it for
 * abandoned. A failure to set it is ignored.
 *
 * Errors: -EINVAL (NULL @box, or NULL @data with @len > 0), -EMSGSIZE
 * (@len larger than the capacity), -EBADF (opened PSHM_RDONLY), -EAGAIN
 * (another live writer kept the box for the whole wait), -EPROTO (the
 * header is no longer valid), -EFAULT (the segment was truncated). The
 * first write through a handle takes its writer id (a liveness lock), and
 * may also fail with -EUSERS (1023 handles hold the box's writer ids) or
 * -ENOLCK (the filesystem refuses the lock).
 */
int pshm_box_write(pshm_box *box, const void *data, size_t len);

/**
 * Copy the box's value into @buf of @cap bytes and return its length. The
 * value is returned only if it is complete (no write overlapped the copy)
 * and its CRC-32C matches; otherwise the call fails, and whatever it had
 * copied into @buf is zeroed again: unverified bytes are never left there.
 *
 * Errors: -EINVAL (NULL @box, or NULL @buf with @cap > 0), -EMSGSIZE (@cap
 * smaller than the value: pshm_box_capacity() bytes always fit), -EBADMSG
 * (checksum mismatch: the value or its length was changed behind pshm's
 * back), -EPROTO (header not valid: wrong magic or version, length larger
 * than the capacity, capacity larger than the segment...), -EAGAIN (a
 * write is in progress for longer than the wait, or a writer died
 * mid-write: the next write repairs the box), -EFAULT (the segment was
 * truncated while being read; never SIGBUS).
 */
ssize_t pshm_box_read(pshm_box *box, void *buf, size_t cap);

/**
 * Copy what the box holds now, without any check (for `pshm get --force`):
 * min(length, @cap) bytes, where length is the header's, bounded by the
 * capacity and the segment's size. Does not wait for writers. Returns the
 * number of bytes copied. NEVER trust these bytes: use pshm_box_read().
 * Errors: -EINVAL, -EPROTO (segment smaller than a box header), -EFAULT.
 */
ssize_t pshm_box_read_unverified(pshm_box *box, void *buf, size_t cap);

/** What pshm_box_verify() and pshm_box_stat() report. Fields they could
 *  not read are 0. */
struct pshm_box_info {
	uint64_t capacity;  /**< payload bytes the box can hold */
	uint64_t length;    /**< length of the value (from the header) */
	uint32_t seq;       /**< sequence number: +2 per completed write */
	pid_t writer;       /**< thread id of a writer mid-write, 0 if none (as
				 seen in the writer's PID namespace: for display) */
	int writer_alive;   /**< 1 if that writer runs (its liveness lock is
				 held), 0 if it died */
};

/**
 * Check the box's value as pshm_box_read() would (header, completeness,
 * CRC-32C), without returning it, and describe the box in @info (may be
 * NULL). Returns 0 if the value checks out, or the error pshm_box_read()
 * would return (-EBADMSG, -EPROTO, -EAGAIN, -EFAULT), -EINVAL (NULL @box),
 * or -ENOMEM.
 */
int pshm_box_verify(pshm_box *box, struct pshm_box_info *info);

/**
 * Describe the box @name from its 64-byte header alone, read with pread(2):
 * capacity, length, sequence number and a writer caught mid-write, in
 * @info (zeroed on failure). The header is validated as pshm_box_open()
 * does (magic, version, sizes against the file's size), but the value is
 * neither read nor checked: use pshm_box_verify() for that. So describing
 * costs one small read whatever the capacity, and never allocates memory
 * in /dev/shm (reading a sparse box through a mapping would). The header
 * is read without waiting for writers: a snapshot, possibly mid-write.
 * Applies no owner/mode policy (nothing it returns is trusted data), but
 * never follows a symlink or opens anything other than a regular file.
 *
 * Returns 0 for a valid header (even with a writer mid-write: see
 * info->writer), or -EINVAL (NULL @info or a bad name), -ENAMETOOLONG,
 * -ENOENT, -EACCES, -ENOTSUP (not a regular file), -EPROTO (not a box:
 * bad header, or a length larger than the capacity).
 */
int pshm_box_stat(const char *name, struct pshm_box_info *info);

/* ------------------------------------------------------------------------
 * Sealed snapshots
 *
 * Data nobody can change: the publisher copies it into a memfd, seals it
 * against writing, shrinking, growing and further sealing (F_SEAL_WRITE,
 * F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL), and hands the descriptor to
 * each reader over a UNIX-domain socket (SCM_RIGHTS). A reader checks who
 * serves it (SO_PEERCRED), checks the seals, and maps it read-only. Once
 * sealed, not even the publisher can change the bytes: writes, truncation
 * and writable shared mappings all fail, whoever tries.
 *
 * The socket is NAME in a directory that only its owner can write:
 * @dir if given, else $XDG_RUNTIME_DIR/pshm for a private snapshot of one's
 * own (mode without group/other bits) when XDG_RUNTIME_DIR is set, else
 * /tmp/pshm-UID (UID: the publisher's effective uid). The directory is
 * created 0700 (0711 when the socket's mode lets others connect) and is
 * refused, with -EPERM, if it is a symlink, not owned by the expected user
 * (or root), or writable by group or others: otherwise someone else could
 * plant a socket there ("squatting"). NAME follows the segment name rules.
 *
 * Thread safety: a pshm_snap is used by one thread at a time.
 * ------------------------------------------------------------------------ */

typedef struct pshm_snap pshm_snap;

/** pshm_snap_fetch() @uid meaning "the caller's effective uid". */
#define PSHM_SNAP_SELF ((uid_t)-1)

/**
 * Write the directory where snapshots served by @uid live (see above;
 * PSHM_SNAP_SELF for the caller, @shared nonzero for a snapshot others may
 * fetch) into @buf of @len bytes. Returns its length, or -ERANGE.
 */
int pshm_snap_dir(uid_t uid, int shared, char *buf, size_t len);

/**
 * Publish @len bytes of @data (@len may be 0) as the sealed snapshot @name:
 * copy them into a sealed memfd and listen on the socket @dir/NAME (@dir
 * NULL: the default directory), whose permissions are @mode (0 means
 * 0600: only the caller's user may connect). Nothing is served until
 * pshm_snap_serve(). A socket left by a dead publisher is replaced; a live
 * one gives -EEXIST.
 *
 * Errors: -EINVAL (bad name or mode, NULL @out), -ENAMETOOLONG (the socket
 * path does not fit a sockaddr_un), -EPERM (unsafe directory), -ENOTSUP
 * (something that is not a socket is in the way), -EEXIST, -ENOENT or
 * -ENOTDIR (a @dir whose parent is missing, or that is not a directory),
 * -ENOMEM, -ENOSPC, -EMFILE, or another -errno of memfd_create(2), bind(2).
 */
int pshm_snap_publish(const char *name, const void *data, size_t len, const char *dir,
		      mode_t mode, pshm_snap **out);

/** The listening socket of @snap, to poll(2) for POLLIN in an event loop. */
int pshm_snap_fd(const pshm_snap *snap);

/** Path of the socket (for messages). */
const char *pshm_snap_path(const pshm_snap *snap);

/**
 * Hand the snapshot to the readers that connect within @timeout_ns (0: only
 * those already waiting; negative: wait until one comes). Returns the
 * number served (0 when the time ran out), -EINTR if a signal interrupted
 * the wait (so a loop can check a stop flag), or another -errno. A reader
 * that misbehaves is dropped without delaying the others.
 */
int pshm_snap_serve(pshm_snap *snap, int64_t timeout_ns);

/** Stop serving: remove the socket, close everything, free @snap (NULL is
 *  a no-op). Readers keep the descriptors and mappings they received. */
void pshm_snap_close(pshm_snap *snap);

/**
 * Fetch the snapshot @name published by the user @uid (PSHM_SNAP_SELF:
 * the caller's effective uid) from @dir (NULL: that user's default
 * directory) and return it in @out as a read-only segment: pshm_seg_addr()
 * and pshm_seg_size() give the bytes (NULL and 0 when empty),
 * pshm_seg_fd() a read-only descriptor, pshm_seg_close() releases it.
 *
 * Checks, in order: the directory (-EPERM if unsafe, as above); the
 * server's credentials (SO_PEERCRED uid must be @uid, else -EPERM); exactly
 * one descriptor received, a regular file of the announced size (else
 * -EPROTO); all four seals set (else -EPERM: someone could still change
 * it). The descriptor is reopened read-only before mapping. Waits at most
 * about 5 s for the publisher (-ETIMEDOUT).
 *
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT (no such snapshot or directory),
 * -ENOTDIR (@dir is not a directory), -ECONNREFUSED (its publisher is
 * gone), -EPERM, -EPROTO, -ETIMEDOUT, -ENOMEM, -EMFILE.
 */
int pshm_snap_fetch(const char *name, uid_t uid, const char *dir, pshm_seg **out);

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
 *  - A peer is alive while it holds its slot's liveness lock (pshm(7),
 *    "Liveness"): the kernel drops it when the peer's process exits, before
 *    it is reaped. Peers may be in different PID namespaces (containers
 *    sharing /dev/shm); a reused pid is never mistaken for a live peer.
 *    Pids are recorded for display only. A process forked (without exec)
 *    while a handle is open shares that handle's locks while it lives.
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

/** How long a PSHM_WAIT_BLOCK handle spins before it sleeps when the
 *  process could not measure what a sleep and wake-up cost (see
 *  pshm_chan_tuning(); the default spin is that measurement, or the
 *  environment variable PSHM_SPIN_NS). */
#define PSHM_SPIN_DEFAULT_NS 30000
/** pshm_chan_set_wait()'s @spin_ns for "the process's default spin". */
#define PSHM_SPIN_AUTO UINT64_MAX
/** Bounds of a measured default spin, in nanoseconds. */
#define PSHM_SPIN_MIN_NS 4000
#define PSHM_SPIN_MAX_NS 100000

/** The most producers an MPSC channel takes (struct pshm_chan_config). */
#define PSHM_CHAN_MAX_PRODUCERS 64
/** Ring sizes a channel takes: a power of two from PSHM_CHAN_RING_MIN to
 *  PSHM_CHAN_RING_MAX bytes, PSHM_CHAN_RING_DEFAULT when not given. */
#define PSHM_CHAN_RING_MIN ((size_t)1 << 10)
#define PSHM_CHAN_RING_MAX ((size_t)1 << 31)
#define PSHM_CHAN_RING_DEFAULT ((size_t)1 << 20)
/** The largest message a ring of @ring_size bytes can carry (a record
 *  header and the next record's header take the rest). */
#define PSHM_CHAN_MSG_MAX(ring_size) ((size_t)(ring_size) - 16)

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
	size_t ring_size;        /**< ring bytes, a power of two from
				      PSHM_CHAN_RING_MIN (1 KiB) to
				      PSHM_CHAN_RING_MAX (2 GiB); default
				      PSHM_CHAN_RING_DEFAULT (1 MiB) */
	size_t max_msg;          /**< largest message in bytes (default ring_size / 4;
				      at most PSHM_CHAN_MSG_MAX(ring_size)) */
	unsigned mode;           /**< enum pshm_chan_mode (default SPSC) */
	unsigned max_producers;  /**< MPSC: producers attached at once, 1 to
				      PSHM_CHAN_MAX_PRODUCERS (the default);
				      SPSC: 0 or 1 */
};

/** One attached peer, as pshm_chan_stat() reports it. */
struct pshm_chan_peer {
	pid_t pid;
	unsigned role;  /**< enum pshm_chan_role */
	int alive;      /**< 1 if it holds its liveness lock (it runs), 0 if gone */
};

/** A channel's state, as pshm_chan_stat() reports it: a snapshot taken
 *  while peers may be working, so the counts may be a message apart. */
struct pshm_chan_info {
	unsigned mode;          /**< enum pshm_chan_mode */
	uint64_t ring_size;     /**< bytes of the ring */
	uint64_t max_msg;       /**< largest message */
	uint64_t used;          /**< bytes in the ring now (fill level) */
	uint64_t pending;       /**< messages waiting to be received (a lower
				     bound when pending_capped) */
	uint64_t sent;          /**< messages committed since creation (received
				     + pending) */
	uint64_t received;      /**< messages released since creation */
	unsigned max_producers; /**< producer slots (1 for SPSC) */
	unsigned n_peers;       /**< entries filled in peers[] */
	struct pshm_chan_peer peers[PSHM_CHAN_MAX_PRODUCERS + 1]; /**< the consumer
				     first, then producers */
	unsigned pending_capped; /**< 1: the walk stopped after
				      PSHM_CHAN_STAT_MAX_RECORDS records with more
				      to go; pending and sent are lower bounds */
};

/** The most records pshm_chan_stat() walks to count pending messages. */
#define PSHM_CHAN_STAT_MAX_RECORDS 65536u

/**
 * Create the channel @name with permissions @mode (0 means 0600; the mode
 * is set exactly, the umask does not narrow it). Its header is complete
 * before the name appears. Does not attach: open it next. @cfg may be
 * NULL for the defaults.
 *
 * Exclusive by default: -EEXIST if the name exists (-ENOTSUP if what
 * exists is not a regular file), unless @flags has PSHM_OPEN_EXISTING, in
 * which case an existing channel is accepted and left as it is (its
 * configuration is whatever it was created with): it must pass the open
 * policy (PSHM_ALLOW_* in @flags, as pshm_seg_open()) and be a channel,
 * else -EPERM or -EPROTO.
 *
 * @flags: PSHM_OPEN_EXISTING, PSHM_ALLOW_FOREIGN, PSHM_ALLOW_SHARED_WRITE.
 * Errors: -EINVAL (bad name, bad @cfg, mode above 07777, unknown flags),
 * -ENAMETOOLONG, -EEXIST, -ENOTSUP (a symlink, directory or FIFO has the
 * name), -EACCES, -ENOSPC, -EFBIG, -ENOMEM, -EMFILE; with
 * PSHM_OPEN_EXISTING also -EPERM (the policy) and -EPROTO (the existing
 * segment is not a channel, or its header is inconsistent).
 */
int pshm_chan_create(const char *name, const struct pshm_chan_config *cfg, mode_t mode,
		     unsigned flags);

/**
 * Remove the channel @name: only if it is a channel (recognised by its
 * magic number, as pshm_seg_stat() reports PSHM_KIND_CHAN), and only if the
 * name still refers to the file that was checked (as
 * pshm_seg_unlink_same()). Attached handles stay valid and keep working
 * with each other; no new peer can find the channel. Applies no
 * owner/mode policy: who may remove a name is the kernel's decision.
 *
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -ENOTSUP (not a regular file),
 * -EACCES (the file cannot be read to check its kind), -EPROTO (not a
 * channel: nothing removed), -ESTALE (replaced while being checked), -EPERM
 * (another user's channel: /dev/shm is sticky), -EMFILE.
 */
int pshm_chan_unlink(const char *name);

/**
 * Attach to the channel @name as @role (PSHM_PRODUCER or PSHM_CONSUMER).
 * @flags takes the PSHM_ALLOW_* policy flags of pshm_seg_open(). A second
 * live consumer, or a second producer on an SPSC channel, gets -EBUSY; the
 * slot of a dead one is taken over. A new consumer starts after the last
 * released message; a new SPSC producer after the last published one. The
 * header is validated: -EPROTO for a segment that is not a channel or
 * whose header is inconsistent. The segment is faulted in at once, so the
 * fast path takes no page faults; a sparse file (holes in the ring) is
 * refused first with -ENODATA, so that faulting it in cannot fill /dev/shm.
 * Errors: those of pshm_seg_open(), -EINVAL (bad role or flags), -EPROTO,
 * -ENODATA, -EBUSY, -EUSERS (MPSC table full), -ENOLCK (the filesystem
 * refuses liveness locks), -ENOMEM.
 */
int pshm_chan_open(const char *name, unsigned role, unsigned flags, pshm_chan **out);

/** Detach and close (NULL is a no-op). A producer's pending reservation is
 *  dropped; a consumer's peeked message stays unreleased and goes to the
 *  next consumer (see pshm(7)). */
void pshm_chan_close(pshm_chan *ch);

/** Choose how @ch waits: PSHM_WAIT_BLOCK spins @spin_ns then sleeps
 *  (spin_ns 0: sleep at once; PSHM_SPIN_AUTO: the process's default, the
 *  setting of a new handle, see pshm_chan_tuning()); PSHM_WAIT_POLL never
 *  sleeps (@spin_ns is ignored). Errors: -EINVAL (NULL handle, unknown
 *  @wait). */
int pshm_chan_set_wait(pshm_chan *ch, unsigned wait, uint64_t spin_ns);

/** The largest message @ch carries (the channel's max_msg; 0 for NULL). */
size_t pshm_chan_max_msg(const pshm_chan *ch);

/** Copy @len bytes of @msg into the channel as one message (0 bytes is a
 *  valid, empty message). Waits while the ring is full.
 *  Errors: -EAGAIN, -ETIMEDOUT, -EINTR, -EMSGSIZE (len > max_msg), -EPIPE
 *  (the consumer is gone), -EPROTO (corrupted indices), -EBUSY (a
 *  reservation is open), -EFAULT (the segment was truncated), -EINVAL (not
 *  a producer, NULL @msg with @len). Sets the file's mtime at most once a
 *  second per handle (so does the consumer in recv and peek): see pshm(7). */
int pshm_chan_send(pshm_chan *ch, const void *msg, size_t len, int64_t timeout_ns);

/** Receive the next message into @buf of @cap bytes; returns its length.
 *  Consumes a message already peeked at. -EMSGSIZE if @cap is too small
 *  (the message stays queued). Errors: -EAGAIN, -ETIMEDOUT, -EINTR,
 *  -EPIPE (ring empty and the producers gone), -EBADMSG (a corrupted
 *  record), -EPROTO (corrupted indices), -EFAULT (the segment was
 *  truncated: every operation runs under the SIGBUS guard; close the
 *  handle), -EINVAL (not the consumer). */
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
 *  copy what must not change under you (with pshm_guarded_copy()).
 *  Errors as pshm_chan_recv(). */
ssize_t pshm_chan_peek(pshm_chan *ch, const void **ptr, int64_t timeout_ns);
/** Release the peeked message (or every message of a
 *  pshm_chan_peek_batch()), freeing its space for producers. Clears
 *  nothing in SPSC channels, so it costs the same at every size.
 *  Errors: -EINVAL (nothing peeked, not the consumer). */
int pshm_chan_release(pshm_chan *ch);

/**
 * Batches. A stream of small messages pays the index updates, the SIGBUS
 * guard and the check for a sleeping peer once per batch instead of once
 * per message, as the LMAX Disruptor and Aeron do. A batch never holds a
 * message back from a consumer that could take it: each record is
 * published as soon as it is written, and a sleeping consumer is woken
 * once the batch is written; a batch is taken from what is already there
 * (no call waits to fill one). Latency first, batching when there is a
 * backlog.
 */

/** struct iovec is <sys/uio.h>'s; this header declares it only by name. */
struct iovec;

/**
 * Send the @n messages msgs[0..n-1] (iov_base, iov_len each), in order, as
 * separate messages, like @n calls of pshm_chan_send(). Waits as
 * @timeout_ns says for room for the first; sends the others while they fit
 * without waiting. Returns how many were sent (1 to @n; 0 only when @n is
 * 0): the caller sends the rest again, like write(2)'s short count. An
 * error is returned only when nothing was sent: those of pshm_chan_send()
 * (a message over max_msg is -EMSGSIZE if first, else the batch stops
 * before it), -EINVAL also for NULL @msgs with @n > 0.
 */
ssize_t pshm_chan_send_batch(pshm_chan *ch, const struct iovec *msgs, size_t n,
			     int64_t timeout_ns);

/**
 * Receive up to @max_msgs messages into @buf of @cap bytes, back to back
 * (message i starts at the sum of lens[0..i-1]); lens[i] gets the length
 * of message i. Waits as @timeout_ns says for the first message only, then
 * takes those already there that fit. Returns the number of messages
 * received (at least 1 when @max_msgs > 0). Consumes messages already
 * peeked at (they are the first ones). Errors, only when nothing was received: those of
 * pshm_chan_recv() (-EMSGSIZE: the first message is larger than @cap; it
 * stays queued), -EINVAL also for NULL @lens with @max_msgs > 0.
 */
ssize_t pshm_chan_recv_batch(pshm_chan *ch, void *buf, size_t cap, size_t *lens,
			     size_t max_msgs, int64_t timeout_ns);

/**
 * Zero-copy receive of up to @max_msgs messages: msgs[i].iov_base points
 * at message i in the ring (read-only, as pshm_chan_peek() says) and
 * msgs[i].iov_len is its length. Waits as @timeout_ns says for the first;
 * returns how many were peeked (at least 1 when @max_msgs > 0). All stay
 * valid until one pshm_chan_release() releases them all at once. Peeking
 * again before releasing starts from the same first message. Errors as
 * pshm_chan_peek(), -EINVAL also for NULL @msgs with @max_msgs > 0.
 */
ssize_t pshm_chan_peek_batch(pshm_chan *ch, struct iovec *msgs, size_t max_msgs,
			     int64_t timeout_ns);

/** How a process tuned its channels (pshm_chan_tuning()). */
enum pshm_tune_source {
	PSHM_TUNE_MEASURED = 0, /**< measured by this process */
	PSHM_TUNE_ENV = 1,      /**< set by an environment variable */
	PSHM_TUNE_FALLBACK = 2, /**< the measurement failed: the safe default */
};

/** Large-copy methods (a message body of PSHM_COPY_LARGE_MIN bytes or more). */
enum pshm_copy_method {
	PSHM_COPY_MEMCPY = 0, /**< the C library's memcpy() */
	PSHM_COPY_LOOP = 1,   /**< pshm's loop of 16-byte loads and stores */
};
/** Message sizes from which the large-copy method applies. */
#define PSHM_COPY_LARGE_MIN 8192

/**
 * The speed choices this process made for its channels, each measured once
 * per process (at the first pshm_chan_open() or pshm_chan_tuning() call,
 * in about a millisecond, with a helper thread) unless an environment
 * variable sets it:
 *  - PSHM_SPIN_NS=N: the default spin of PSHM_WAIT_BLOCK handles, in
 *    nanoseconds (0: sleep at once). Otherwise the median round trip of a
 *    futex wake between two threads (two sleeps and wake-ups), bounded to
 *    [PSHM_SPIN_MIN_NS, PSHM_SPIN_MAX_NS]: a peer that answers within one
 *    sleep/wake-up cost is never paid a sleep.
 *  - PSHM_COPY=memcpy|loop: how a producer copies a large message into the
 *    ring. Otherwise both are timed on lines another thread has just read,
 *    as a consumer leaves them, and the loop is used only if it is clearly
 *    (10%) faster.
 * There is no wipe to choose: a consumer never clears what it releases,
 * except in MPSC channels, where a copying receive clears the record it
 * has just read (pshm(7), CHANNELS).
 */
struct pshm_chan_tuning {
	uint64_t spin_ns;         /**< default spin of a PSHM_WAIT_BLOCK handle */
	uint64_t wake_rtt_ns;     /**< measured futex wake round trip (0: none) */
	unsigned spin_source;     /**< enum pshm_tune_source */
	unsigned copy;            /**< enum pshm_copy_method */
	unsigned copy_source;     /**< enum pshm_tune_source */
	uint64_t copy_memcpy_ns;  /**< measured: one 64 KiB copy with memcpy() (0: none) */
	uint64_t copy_loop_ns;    /**< measured: the same with the loop (0: none) */
};

/** Fill @t with this process's channel tuning, measuring it first if no
 *  channel was opened yet. Errors: -EINVAL (NULL @t). */
int pshm_chan_tuning(struct pshm_chan_tuning *t);

/** Describe the channel @name without attaching (read-only; any owner's
 *  channel may be described). Reads the file with pread(2), never through
 *  a mapping, so describing a sparse or hostile file allocates nothing and
 *  a concurrent truncation cannot raise SIGBUS. Counting pending messages
 *  walks at most PSHM_CHAN_STAT_MAX_RECORDS records (see pending_capped).
 *  Errors: those of pshm_seg_open(), -EPROTO (not a channel, inconsistent
 *  header, truncated while read), -EINVAL (NULL @info), -ENOMEM. */
int pshm_chan_stat(const char *name, struct pshm_chan_info *info);

/* ------------------------------------------------------------------------
 * Topics
 *
 * A topic is a named segment that carries messages from one publisher to
 * any number of subscribers, each reading every message through its own
 * cursor (one to many: broadcast). Messages are numbered 1, 2, 3... in the
 * order they are published (a 64-bit sequence number that never wraps).
 *
 * The ring is a power-of-two number of fixed slots (pshm_topic_slots():
 * ring_size / PSHM_TOPIC_SLOT(max_msg)), each holding one message of up to
 * max_msg bytes with its sequence number. Each slot is a seqlock: a
 * subscriber checks the sequence number after reading, so a message
 * overwritten while it was read is never returned as valid.
 *
 * Slow subscribers, chosen at creation (struct pshm_topic_config.policy):
 *  - PSHM_TOPIC_BLOCKING: the publisher waits for the slowest live
 *    subscriber; nothing is lost.
 *  - PSHM_TOPIC_LOSSY: the publisher never waits; a subscriber that falls
 *    a whole ring behind skips ahead (to half a ring behind the publisher,
 *    so that it can catch up) and counts exactly how many it skipped
 *    (pshm_topic_missed()).
 *
 * History: a topic keeps the last `history` messages (0 allowed; less than
 * the number of slots) for subscribers that join later. A subscriber opened
 * with PSHM_TOPIC_HISTORY starts from the oldest of them still in the ring,
 * then gets the rest, with no gap and no duplicate (blocking mode); without
 * it, from the next message published.
 *
 * Timeouts (nanoseconds) as channels: 0 tries once and returns -EAGAIN,
 * PSHM_FOREVER (any negative value) waits for ever, a positive value bounds
 * the wait and returns -ETIMEDOUT. Waits spin briefly, then sleep on a
 * futex in the segment; the other side makes a system call to wake a
 * sleeper only when one sleeps (pshm_topic_set_wait()).
 *
 * Peers and crashes (pshm(7), TOPICS, has the details):
 *  - One publisher at a time: a second live publisher gets -EBUSY; the
 *    slot of a dead one is taken over, and numbering goes on where it
 *    stopped. Subscribers attach and detach at any time, up to
 *    max_subscribers at once (-EUSERS beyond).
 *  - Liveness as for channel peers (pshm(7), "Liveness"): a lock held by
 *    the handle, dropped by the kernel when its process exits, before it is
 *    reaped, in any PID namespace. A dead subscriber never blocks the
 *    publisher: it is noticed within about 20 ms of the publisher waiting.
 *  - A publisher killed at any point never makes a partial message
 *    visible. -EPIPE: a subscriber that has read every message gets it when
 *    the publisher it has seen (or one that attached after it) is gone
 *    (noticed within about 20 ms of waiting). A publisher never gets
 *    -EPIPE: with no subscriber, its messages only feed the history.
 *  - A handle is used by one thread at a time.
 * ------------------------------------------------------------------------ */

typedef struct pshm_topic pshm_topic;

/** The most subscribers a topic takes; PSHM_TOPIC_SUBSCRIBERS_DEFAULT when
 *  struct pshm_topic_config.max_subscribers is 0. */
#define PSHM_TOPIC_MAX_SUBSCRIBERS 256
#define PSHM_TOPIC_SUBSCRIBERS_DEFAULT 64
/** Ring sizes a topic takes: a power of two from PSHM_TOPIC_RING_MIN to
 *  PSHM_TOPIC_RING_MAX bytes, PSHM_TOPIC_RING_DEFAULT when not given. */
#define PSHM_TOPIC_RING_MIN ((size_t)1 << 10)
#define PSHM_TOPIC_RING_MAX ((size_t)1 << 31)
#define PSHM_TOPIC_RING_DEFAULT ((size_t)1 << 20)
/** max_msg when not given (capped so that the ring has at least 2 slots). */
#define PSHM_TOPIC_MSG_DEFAULT ((size_t)1008)
/** The bytes one message slot takes: a 16-byte header and @max_msg bytes,
 *  rounded up to a power of two (at least 64). */
#define PSHM_TOPIC_SLOT(max_msg)                                              \
	((size_t)1 << (((size_t)(max_msg) + 16 <= 64) ? 6                      \
		       : 64 - __builtin_clzll((unsigned long long)(max_msg) + 15)))

/** Role of a topic handle, chosen at pshm_topic_open(). */
enum pshm_topic_role {
	PSHM_PUBLISHER = 3,
	PSHM_SUBSCRIBER = 4,
};

/** What the publisher does about slow subscribers, fixed at creation. */
enum pshm_topic_policy {
	PSHM_TOPIC_BLOCKING = 0, /**< wait for the slowest live subscriber */
	PSHM_TOPIC_LOSSY = 1,    /**< never wait; slow subscribers skip ahead */
};

/** pshm_topic_open() flag for a subscriber: start from the oldest message
 *  kept as history instead of the next one published. (A bit of its own
 *  next to enum pshm_flags.) */
#define PSHM_TOPIC_HISTORY (1u << 16)

/** Parameters of pshm_topic_create(); zero fields take the defaults. */
struct pshm_topic_config {
	size_t ring_size;         /**< ring bytes, a power of two from
				       PSHM_TOPIC_RING_MIN (1 KiB) to
				       PSHM_TOPIC_RING_MAX (2 GiB); default
				       PSHM_TOPIC_RING_DEFAULT (1 MiB) */
	size_t max_msg;           /**< largest message in bytes (default
				       PSHM_TOPIC_MSG_DEFAULT, at most ring_size / 2
				       - 16); the ring holds ring_size /
				       PSHM_TOPIC_SLOT(max_msg) messages */
	unsigned history;         /**< messages kept for late subscribers (0 to
				       the number of slots - 1) */
	unsigned max_subscribers; /**< subscribers attached at once, 1 to
				       PSHM_TOPIC_MAX_SUBSCRIBERS; default
				       PSHM_TOPIC_SUBSCRIBERS_DEFAULT (64) */
	unsigned policy;          /**< enum pshm_topic_policy (default BLOCKING) */
};

/** One subscriber, as pshm_topic_stat() reports it. */
struct pshm_topic_sub {
	pid_t pid;       /**< as recorded at attach (for display only) */
	int alive;       /**< 1 if it holds its liveness lock (it runs), 0 if gone */
	uint64_t next;   /**< number of the next message it will read */
	uint64_t lag;    /**< messages published that it has not read yet */
	uint64_t missed; /**< messages it skipped (lossy mode) */
};

/** A topic's state, as pshm_topic_stat() reports it: a snapshot taken while
 *  peers may be working, so the counts may be a message apart. */
struct pshm_topic_info {
	unsigned policy;          /**< enum pshm_topic_policy */
	uint64_t ring_size;       /**< bytes of the ring */
	uint64_t max_msg;         /**< largest message */
	uint64_t slots;           /**< messages the ring holds */
	unsigned history;         /**< messages kept for late subscribers */
	unsigned max_subscribers; /**< subscriber slots */
	uint64_t published;       /**< messages published since creation (the
				       number of the last one) */
	uint64_t kept;            /**< history messages available to a subscriber
				       joining now */
	pid_t publisher;          /**< pid of the last publisher, 0 if none came */
	int publisher_alive;      /**< 1 if a publisher is attached and runs */
	unsigned n_subs;          /**< entries filled in subs[] */
	struct pshm_topic_sub subs[PSHM_TOPIC_MAX_SUBSCRIBERS]; /**< attached
				       subscribers, live or dead, by slot */
};

/**
 * Create the topic @name with permissions @mode (0 means 0600; set exactly,
 * the umask does not narrow it). Its header is complete before the name
 * appears. Does not attach: open it next. @cfg may be NULL for the defaults.
 * Exclusive by default: -EEXIST if the name exists, unless @flags has
 * PSHM_OPEN_EXISTING, in which case an existing topic is accepted as it is
 * (it must pass the open policy and be a topic: else -EPERM or -EPROTO).
 *
 * @flags: PSHM_OPEN_EXISTING, PSHM_ALLOW_FOREIGN, PSHM_ALLOW_SHARED_WRITE.
 * Errors: -EINVAL (bad name, bad @cfg: ring size not a power of two in
 * range, max_msg too large for 2 slots, history not below the number of
 * slots, max_subscribers above PSHM_TOPIC_MAX_SUBSCRIBERS, unknown policy;
 * mode above 07777, unknown flags), -ENAMETOOLONG, -EEXIST, -ENOTSUP (a
 * symlink, directory or FIFO has the name), -EACCES, -ENOSPC, -EFBIG,
 * -ENOMEM, -EMFILE; with PSHM_OPEN_EXISTING also -EPERM and -EPROTO.
 */
int pshm_topic_create(const char *name, const struct pshm_topic_config *cfg, mode_t mode,
		      unsigned flags);

/**
 * Remove the topic @name: only if it is a topic (its magic number, as
 * pshm_seg_stat() reports PSHM_KIND_TOPIC), and only if the name still
 * refers to the file that was checked (as pshm_seg_unlink_same()). Attached
 * handles stay valid. Applies no owner/mode policy.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -ENOTSUP, -EACCES, -EPROTO (not
 * a topic: nothing removed), -ESTALE, -EPERM, -EMFILE.
 */
int pshm_topic_unlink(const char *name);

/**
 * Attach to the topic @name as @role (PSHM_PUBLISHER or PSHM_SUBSCRIBER).
 * @flags: the PSHM_ALLOW_* policy flags of pshm_seg_open(), and for a
 * subscriber PSHM_TOPIC_HISTORY. Both roles map the segment read-write (a
 * subscriber records its cursor there), so both need write permission.
 * A second live publisher gets -EBUSY; the slot of a dead one is taken
 * over. The header is validated; the segment
 * is faulted in at once, a sparse file being refused first with -ENODATA.
 * Errors: those of pshm_seg_open() (-ENOENT, -EACCES, -EPERM, -ENOTSUP...),
 * -EINVAL (bad role or flags, NULL @out), -EPROTO (not a topic, or an
 * inconsistent header), -ENODATA, -EFAULT (truncated while attaching),
 * -EBUSY, -EUSERS (max_subscribers live subscribers already attached),
 * -ENOLCK (the filesystem refuses liveness locks), -ENOMEM.
 */
int pshm_topic_open(const char *name, unsigned role, unsigned flags, pshm_topic **out);

/** pshm_topic_open(@name, PSHM_SUBSCRIBER, @flags, @out). */
int pshm_topic_subscribe(const char *name, unsigned flags, pshm_topic **out);

/** Detach and close (NULL is a no-op); stops the thread of
 *  pshm_topic_fd() and closes its descriptor. A publisher's open
 *  reservation is dropped, never published. */
void pshm_topic_close(pshm_topic *t);

/** Choose how @t waits, as pshm_chan_set_wait(): PSHM_WAIT_BLOCK spins
 *  @spin_ns then sleeps (PSHM_SPIN_AUTO, the default: the spin measured
 *  for this machine, see pshm_chan_tuning()), PSHM_WAIT_POLL never sleeps.
 *  Errors: -EINVAL (NULL handle, unknown @wait). */
int pshm_topic_set_wait(pshm_topic *t, unsigned wait, uint64_t spin_ns);

/** The largest message @t carries (0 for NULL). */
size_t pshm_topic_max_msg(const pshm_topic *t);

/** The number of messages the ring of @t holds (0 for NULL). */
uint64_t pshm_topic_slots(const pshm_topic *t);

/** Publish @len bytes of @msg as the next message (0 bytes is a valid,
 *  empty message). Blocking topics wait while the slowest live subscriber
 *  is a whole ring behind; lossy topics never wait.
 *  Errors: -EAGAIN, -ETIMEDOUT, -EINTR, -EMSGSIZE (len > max_msg), -EBUSY
 *  (a reservation is open), -EPROTO (corrupted header), -EFAULT (the
 *  segment was truncated), -EINVAL (not the publisher, NULL @msg with @len). */
int pshm_topic_publish(pshm_topic *t, const void *msg, size_t len, int64_t timeout_ns);

/** Zero-copy publish: reserve the next slot for up to @len bytes and return
 *  its address in *@ptr; write the message there, then pshm_topic_commit().
 *  Nothing is visible to subscribers before the commit. Errors as
 *  pshm_topic_publish(). */
int pshm_topic_reserve(pshm_topic *t, size_t len, void **ptr, int64_t timeout_ns);
/** Publish the reserved message, shortened to @len (<= the reserved size).
 *  Errors: -EINVAL (no reservation open, @len too large, not a publisher),
 *  -EFAULT. */
int pshm_topic_commit(pshm_topic *t, size_t len);

/** Copy the next message into @buf of @cap bytes; returns its length.
 *  In lossy mode, messages overwritten before they could be read are
 *  skipped and counted (pshm_topic_missed()); what is returned is always
 *  a whole message, checked after the copy.
 *  Errors: -EAGAIN, -ETIMEDOUT, -EINTR, -EMSGSIZE (@cap too small: the
 *  message stays next), -EPIPE (every message read and the publisher gone),
 *  -EPROTO (corrupted header or slot), -EFAULT (the segment was truncated:
 *  close the handle), -EINVAL (not a subscriber, NULL @buf with @cap). */
ssize_t pshm_topic_recv(pshm_topic *t, void *buf, size_t cap, int64_t timeout_ns);

/** Zero-copy receive: *@ptr points at the next message in the ring
 *  (read-only, until pshm_topic_release()); returns its length. Peeking
 *  again without releasing returns the same message. In lossy mode the
 *  publisher may overwrite it while you read: pshm_topic_release() says so.
 *  Errors as pshm_topic_recv() (but not -EMSGSIZE). */
ssize_t pshm_topic_peek(pshm_topic *t, const void **ptr, int64_t timeout_ns);
/** Release the peeked message and move to the next. Returns 0 if the
 *  message stayed intact until now, -ESTALE if the publisher overwrote it
 *  meanwhile (lossy mode only: what was read may be torn; discard it; the
 *  message counts as missed). Errors: -EINVAL (nothing peeked, not a
 *  subscriber), -EFAULT. */
int pshm_topic_release(pshm_topic *t);

/** The number of messages subscriber @t skipped since it attached (lossy
 *  mode: overwritten before it read them); compare before and after a
 *  receive to report each gap. 0 for NULL or a publisher. */
uint64_t pshm_topic_missed(const pshm_topic *t);

/** The number of the last message received or peeked (subscriber) or
 *  published (publisher) through @t; 0 if none yet, or for NULL. */
uint64_t pshm_topic_seq(const pshm_topic *t);

/**
 * A descriptor that polls readable (POLLIN, for poll(2), epoll(7)...) when
 * subscriber @t may have a message to receive, or its publisher is gone.
 * It is an eventfd, owned by the handle (do not close it; closed by
 * pshm_topic_close()), served by a thread that the first call starts: it
 * sleeps on the topic's futex, as a blocked receive would, and rearms
 * when a receive or peek on @t returns -EAGAIN (which drains it). Use it
 * edge-style: on POLLIN, receive with timeout 0 until -EAGAIN. Later calls
 * return the same descriptor.
 * Errors: -EINVAL (NULL or not a subscriber), -EMFILE, -ENOMEM, -EAGAIN
 * (no thread could be started).
 */
int pshm_topic_fd(pshm_topic *t);

/** Describe the topic @name without attaching (read-only; any owner's
 *  topic may be described), read with pread(2), never through a mapping.
 *  Errors: those of pshm_seg_open(), -EPROTO (not a topic, inconsistent
 *  header, truncated while read), -EINVAL (NULL @info), -ENOMEM. */
int pshm_topic_stat(const char *name, struct pshm_topic_info *info);

/* ------------------------------------------------------------------------
 * Services
 *
 * A service is request/response in one named segment: clients send
 * requests, a server (or a pool of servers sharing the work) receives them
 * and answers each one; a reply reaches only the client that asked,
 * matched by the request's id. No daemon, no system call on the fast path
 * beyond the futex wake of a side that sleeps.
 *
 * Each client holds a slot with max_inflight request cells, each with room
 * for one request and its reply (pshm(7), SERVICES, has the layout). A
 * request id (uint64_t) names the client slot, the cell and a sequence
 * number: the client and the server see the same id.
 *
 * Timeouts (nanoseconds) as for channels: 0 tries once and returns
 * -EAGAIN, PSHM_FOREVER (any negative value) waits for ever, a positive
 * value bounds the wait and returns -ETIMEDOUT.
 *
 * Peers and crashes (liveness as for channels: pshm(7), "Liveness"):
 *  - A handle is used by one thread. Several server handles (threads or
 *    processes) form a pool: each request goes to exactly one of them.
 *  - A client that dies loses only its own requests and replies; its slot
 *    is taken over by a later client, and replies still owed to it are
 *    dropped and counted (late_dropped), never delivered to the new owner.
 *  - A request taken by a server that then dies (or closes without
 *    answering) fails with -EPIPE, noticed within about 20 ms of waiting; it
 *    is never given to another server (at most once). A request not yet
 *    taken waits for any live server of the pool; it fails with -EPIPE when
 *    no server is alive and at least one has attached since the service
 *    was created (a service that never had a server is waited for).
 *  - A request given up (its call timed out, or pshm_service_cancel()) is
 *    withdrawn if no server took it yet; otherwise its reply, when it
 *    comes, is dropped and counted (late_dropped), never delivered to a
 *    later request, and its cell is reused only after that.
 *  - A segment written by a hostile peer yields -EPROTO, -EBADMSG or
 *    -EFAULT (truncated), never a crash or an endless loop.
 * ------------------------------------------------------------------------ */

typedef struct pshm_service pshm_service;

/** Limits of struct pshm_service_config. */
#define PSHM_SERVICE_MAX_SERVERS 64
#define PSHM_SERVICE_MAX_CLIENTS 1024
#define PSHM_SERVICE_MAX_INFLIGHT 64
#define PSHM_SERVICE_MSG_MAX ((size_t)1 << 24) /**< largest request or reply */

/** Role of a service handle, chosen at pshm_service_open(). */
enum pshm_service_role {
	PSHM_SERVER = 5,
	PSHM_CLIENT = 6,
};

/** Parameters of pshm_service_create(); zero fields take the defaults.
 *  The segment holds max_clients * max_inflight cells of
 *  max_request + max_reply bytes (rounded up to 64), reserved at once. */
struct pshm_service_config {
	size_t max_request;    /**< largest request, 1 to PSHM_SERVICE_MSG_MAX
				    (default 4096) */
	size_t max_reply;      /**< largest reply, 1 to PSHM_SERVICE_MSG_MAX
				    (default 4096) */
	unsigned max_clients;  /**< clients attached at once, 1 to
				    PSHM_SERVICE_MAX_CLIENTS (default 64) */
	unsigned max_servers;  /**< servers in the pool at once, 1 to
				    PSHM_SERVICE_MAX_SERVERS (default 8) */
	unsigned max_inflight; /**< requests in flight per client, 1 to
				    PSHM_SERVICE_MAX_INFLIGHT (default 16) */
};

/** A received request, as pshm_service_recv() describes it. */
struct pshm_service_req {
	uint64_t id;     /**< pass it to pshm_service_reply() */
	unsigned client; /**< the client's slot (0 to max_clients - 1) */
	pid_t pid;       /**< the client's pid as it recorded it (display only) */
};

/** A service's state, as pshm_service_stat() reports it: a snapshot taken
 *  while peers work, so counts may be a request apart. */
struct pshm_service_info {
	uint64_t max_request, max_reply;  /**< the configuration */
	unsigned max_clients, max_servers, max_inflight;
	unsigned servers;      /**< live servers now */
	unsigned clients;      /**< live clients now */
	uint64_t queued;       /**< requests waiting for a server */
	uint64_t in_progress;  /**< requests taken by a server, not answered */
	uint64_t answered;     /**< replies waiting to be collected */
	uint64_t requests;     /**< requests taken by servers since creation */
	uint64_t late_dropped; /**< replies dropped since creation: their
				    request was given up or its client died */
	uint64_t server_attaches, client_attaches; /**< opens since creation */
};

/**
 * Create the service @name with permissions @mode (0 means 0600; set
 * exactly). Complete before the name appears; does not attach. @cfg may be
 * NULL for the defaults. Exclusive unless @flags has PSHM_OPEN_EXISTING
 * (then an existing service passing the open policy is accepted as it is).
 * @flags: PSHM_OPEN_EXISTING, PSHM_ALLOW_FOREIGN, PSHM_ALLOW_SHARED_WRITE.
 * Errors: as pshm_chan_create() (-EINVAL for a bad @cfg, -EPROTO when the
 * existing segment is not a service).
 */
int pshm_service_create(const char *name, const struct pshm_service_config *cfg, mode_t mode,
			unsigned flags);

/**
 * Remove the service @name, only if it is one (by its magic number) and
 * the name still refers to the file checked. Attached handles keep
 * working. Errors: as pshm_chan_unlink() (-EPROTO: not a service).
 */
int pshm_service_unlink(const char *name);

/**
 * Attach to the service @name as @role (PSHM_SERVER or PSHM_CLIENT).
 * @flags: the PSHM_ALLOW_* policy flags. The slot of a dead peer is taken
 * over. Errors: those of pshm_seg_open(), -EINVAL (bad role or flags),
 * -EPROTO (not a service, inconsistent header), -ENODATA (sparse file),
 * -EUSERS (every slot of the role is held by a live peer), -ENOLCK (the
 * filesystem refuses liveness locks), -EFAULT, -ENOMEM.
 */
int pshm_service_open(const char *name, unsigned role, unsigned flags, pshm_service **out);

/** Detach and close (NULL is a no-op). A client's requests in flight are
 *  given up; a server's requests taken but not answered fail with -EPIPE
 *  at their clients. */
void pshm_service_close(pshm_service *svc);

/** The largest request and reply of the service (0 for NULL). */
size_t pshm_service_max_request(const pshm_service *svc);
size_t pshm_service_max_reply(const pshm_service *svc);

/**
 * Client: send @len bytes of @req and wait for the reply, copied into
 * @reply of @cap bytes; returns the reply's length. If the wait ends
 * (timeout, signal) the request is given up (see above). Errors: -EAGAIN,
 * -ETIMEDOUT, -EINTR, -EPIPE (the server that took it died, or no server
 * is left), -EREMOTEIO (the server answered with pshm_service_fail(): its
 * message, NUL-terminated and truncated to @cap, is in @reply), -EMSGSIZE
 * (@len > max_request, or the reply is larger than @cap: it is dropped),
 * -ENOBUFS (max_inflight requests already in flight), -EBADMSG, -EPROTO,
 * -EFAULT (hostile or truncated segment), -EINVAL (not a client, NULL
 * @req with @len).
 */
ssize_t pshm_service_call(pshm_service *cli, const void *req, size_t len, void *reply,
			  size_t cap, int64_t timeout_ns);

/** pshm_service_call() through a client handle opened on @name for this
 *  one call (flags: PSHM_ALLOW_*). Errors: those of pshm_service_open()
 *  and pshm_service_call(). */
ssize_t pshm_service_call_name(const char *name, unsigned flags, const void *req, size_t len,
			       void *reply, size_t cap, int64_t timeout_ns);

/**
 * Client, asynchronous: post a request without waiting; its id goes to
 * *@id. Up to max_inflight requests may be in flight; collect their
 * replies with pshm_service_collect(). Errors: -ENOBUFS (none free:
 * collect first), -EMSGSIZE, -EPROTO, -EFAULT, -EINVAL.
 */
int pshm_service_send(pshm_service *cli, const void *req, size_t len, uint64_t *id);

/**
 * Client: wait for the outcome of a request in flight: the one whose id is
 * in *@id, or, when *@id is 0, any of them (the oldest ready first is not
 * promised). On return *@id names the request the result belongs to, which
 * is then no longer in flight: its reply's length, or -EPIPE,
 * -EREMOTEIO, -EMSGSIZE, -EBADMSG (an impossible reply length), -EPROTO
 * (its state word was changed behind the library's back). Errors that
 * concern no request leave *@id as it was and the requests in flight:
 * -EAGAIN, -ETIMEDOUT, -EINTR, -ENOMSG (nothing in flight, or *@id is not
 * in flight), -EFAULT, -EINVAL.
 */
ssize_t pshm_service_collect(pshm_service *cli, uint64_t *id, void *reply, size_t cap,
			     int64_t timeout_ns);

/** Client: give up the request @id: withdrawn if no server took it yet,
 *  else its reply is dropped when it comes (late_dropped).
 *  Errors: -ENOMSG (not in flight), -EFAULT, -EINVAL. */
int pshm_service_cancel(pshm_service *cli, uint64_t id);

/**
 * Server: take the next request into @buf of @cap bytes; returns its
 * length and describes it in *@req (required: its id is the answer's
 * address). Requests of all clients are served in turn. Each request
 * received must be answered (pshm_service_reply() or pshm_service_fail()),
 * in any order; until then its client waits. Errors: -EAGAIN, -ETIMEDOUT,
 * -EINTR, -EMSGSIZE (@cap < the next request: it stays queued), -EBADMSG
 * (a request with an impossible length: answered with an error and
 * dropped), -EFAULT, -EINVAL (not a server, NULL @req).
 */
ssize_t pshm_service_recv(pshm_service *srv, void *buf, size_t cap,
			  struct pshm_service_req *req, int64_t timeout_ns);

/**
 * Server: answer the request @id with @len bytes of @rep and wake its
 * client. Errors: -ECANCELED (the client gave the request up or died: the
 * reply is dropped and counted; not a failure of the server), -EMSGSIZE
 * (@len > max_reply: nothing sent, answer again), -ESRCH (@id is not a
 * request this handle holds), -EFAULT, -EINVAL.
 */
int pshm_service_reply(pshm_service *srv, uint64_t id, const void *rep, size_t len);

/** Server: answer the request @id with an error: the client's call or
 *  collect returns -EREMOTEIO with @msg (a string, truncated to
 *  max_reply - 1 bytes) as its reply. Errors as pshm_service_reply(). */
int pshm_service_fail(pshm_service *srv, uint64_t id, const char *msg);

/** Describe the service @name without attaching (read-only, with pread(2)
 *  only, any owner's service). Errors: those of pshm_seg_open(), -EPROTO
 *  (not a service, inconsistent header), -EINVAL (NULL @info). */
int pshm_service_stat(const char *name, struct pshm_service_info *info);

#ifdef __cplusplus
}
#endif

#endif /* PSHM_H */
