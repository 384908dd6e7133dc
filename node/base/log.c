/* log.c -- timestamped log lines, each naming its subsystem, on stderr or in
 * a file reopened on request. */
#include "kula/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NAME_OF(s) #s,
static const char *const subsystems[] = { KULA_LOG_SUBSYSTEMS(NAME_OF) };
#undef NAME_OF
#define NSUBSYS (sizeof(subsystems) / sizeof(subsystems[0]))

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* The file and its path change only under the lock, so a thread logging
 * while the loop reopens never writes to a closed FILE. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int min_level = KULA_LOG_INFO;
static uint32_t debug_mask;
static FILE *file;          /* NULL: stderr */
static char file_path[1024];

void kula_log_set_level(enum kula_log_level level) { min_level = (int)level; }

void kula_log_set_debug(uint32_t mask) { debug_mask = mask; }

bool kula_log_level_parse(enum kula_log_level *out, const char *name)
{
    for (int i = KULA_LOG_DEBUG; i <= KULA_LOG_ERROR; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum kula_log_level)i;
            return true;
        }
    return false;
}

const char *kula_log_level_name(enum kula_log_level level)
{
    return level >= KULA_LOG_DEBUG && level <= KULA_LOG_ERROR ? level_names[level] : "none";
}

void kula_log_debug_format(char *out, size_t cap, uint32_t mask)
{
    size_t off = 0;
    if (cap > 0)
        out[0] = '\0';
    for (size_t i = 0; i < NSUBSYS && off < cap; i++)
        if (mask & (1u << i))
            off += (size_t)snprintf(out + off, cap - off, "%s%s", off > 0 ? "," : "",
                                    subsystems[i]);
}

static int subsys_index(const char *name, size_t len)
{
    for (size_t i = 0; i < NSUBSYS; i++)
        if (strlen(subsystems[i]) == len && strncmp(name, subsystems[i], len) == 0)
            return (int)i;
    return -1;
}

bool kula_log_debug_parse(uint32_t *mask, const char *list, char *why, size_t cap)
{
    *mask = 0;
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == 0)
            break;
        int i = subsys_index(p, len);
        if (len == 3 && strncmp(p, "all", 3) == 0) {
            *mask = (1u << NSUBSYS) - 1;
        } else if (i < 0) {
            size_t off = (size_t)snprintf(why, cap, "'%.*s' is not a subsystem; the subsystems "
                                                    "are all,",
                                          (int)(len > 40 ? 40 : len), p);
            for (size_t k = 0; k < NSUBSYS && off < cap; k++)
                off += (size_t)snprintf(why + off, cap - off, " %s%s", subsystems[k],
                                        k + 1 < NSUBSYS ? "," : "");
            return false;
        } else {
            *mask |= 1u << i;
        }
        p += len;
    }
    return true;
}

static FILE *open_log(const char *path, int *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "a");
    if (f == NULL) {
        *err = errno ? errno : EIO;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

int kula_log_set_file(const char *path)
{
    FILE *f = NULL;
    int err = 0;
    if (path != NULL && path[0] != '\0') {
        if (strlen(path) >= sizeof(file_path))
            return -ENAMETOOLONG;
        if ((f = open_log(path, &err)) == NULL)
            return -err;
    }
    pthread_mutex_lock(&lock);
    if (file != NULL)
        fclose(file);
    file = f;
    if (f != NULL)
        strcpy(file_path, path);
    else
        file_path[0] = '\0';
    pthread_mutex_unlock(&lock);
    return 0;
}

int kula_log_reopen(void)
{
    pthread_mutex_lock(&lock);
    if (file == NULL) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    int err = 0;
    FILE *f = open_log(file_path, &err);
    if (f != NULL) {
        fclose(file);
        file = f;
    }
    pthread_mutex_unlock(&lock);
    if (f == NULL) {
        kula_log_at("node", KULA_LOG_ERROR, "log: cannot reopen %s: %s; still writing to the "
                    "file opened before", file_path, strerror(err));
        return -err;
    }
    kula_log_at("node", KULA_LOG_INFO, "log: reopened %s", file_path);
    return 0;
}

void kula_log_at(const char *subsys, enum kula_log_level level, const char *fmt, ...)
{
    if ((int)level < min_level) {
        if (level != KULA_LOG_DEBUG || debug_mask == 0)
            return;
        int i = subsys_index(subsys, strlen(subsys));
        if (i < 0 || (debug_mask & (1u << i)) == 0)
            return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Messages written before subsystems were named start with their own
     * ("consensus: ..."): it is said once. */
    size_t sl = strlen(subsys);
    const char *text = msg;
    if (strncmp(msg, subsys, sl) == 0 && msg[sl] == ':' && msg[sl + 1] == ' ')
        text = msg + sl + 2;
    /* One fprintf per line, under the lock, keeps lines whole when threads
     * log and the file is never swapped under a writer. */
    pthread_mutex_lock(&lock);
    fprintf(file != NULL ? file : stderr, "%s.%03dZ %-5s %s: %s\n", ts, (int)(tv.tv_usec / 1000),
            level_names[level], subsys, text);
    pthread_mutex_unlock(&lock);
}
