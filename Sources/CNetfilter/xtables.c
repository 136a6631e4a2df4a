// Reads iptables-legacy tables through the kernel's getsockopt ABI (IPT_SO_GET_INFO/GET_ENTRIES),
// without libiptc or running iptables-legacy-save. Only counts and built-in chain policies.
#define _GNU_SOURCE
#include "CNetfilter.h"

#include <sched.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

static int policy_of(const struct xt_entry_target *t) {
    if (t->u.user.name[0] != '\0') return POSTURE_XT_POLICY_OTHER; /* not the standard target */
    int verdict = ((const struct xt_standard_target *)t)->verdict;
    if (verdict == -NF_ACCEPT - 1) return POSTURE_XT_POLICY_ACCEPT;
    if (verdict == -NF_DROP - 1) return POSTURE_XT_POLICY_DROP;
    return POSTURE_XT_POLICY_OTHER;
}

/* Walks the entry blob: an entry at a hook's underflow offset is that chain's policy; ERROR entries
 * are user-chain heads (and the final terminator); each user chain also ends in an implicit RETURN. */
static void walk(const char *blob, unsigned int size, const unsigned int *underflow,
                 unsigned int valid_hooks, int is_v6, posture_xt_table *out) {
    unsigned int off = 0, heads = 0, others = 0;
    while (off < size) {
        unsigned short target_offset, next_offset;
        if (is_v6) {
            const struct ip6t_entry *e = (const struct ip6t_entry *)(blob + off);
            target_offset = e->target_offset;
            next_offset = e->next_offset;
        } else {
            const struct ipt_entry *e = (const struct ipt_entry *)(blob + off);
            target_offset = e->target_offset;
            next_offset = e->next_offset;
        }
        if (next_offset == 0 || off + next_offset > size) break; /* malformed: stop, counts stay low */
        const struct xt_entry_target *t = (const struct xt_entry_target *)(blob + off + target_offset);
        int is_policy = 0;
        for (int h = 0; h < 5; h++) {
            if ((valid_hooks & (1u << h)) && underflow[h] == off) {
                out->policies[h] = policy_of(t);
                is_policy = 1;
            }
        }
        if (!is_policy) {
            if (strcmp(t->u.user.name, XT_ERROR_TARGET) == 0) {
                if (off + next_offset < size) heads++;
            } else {
                others++;
            }
        }
        off += next_offset;
    }
    out->user_chains = heads;
    out->rules = others >= heads ? others - heads : 0;
}

int posture_xt_read_table(int family, const char *table, posture_xt_table *out) {
    memset(out, 0, sizeof *out);
    int is_v6 = family == AF_INET6;
    int level = is_v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) return -errno;

    /* ipt_getinfo and ip6t_getinfo have the same layout. */
    struct ipt_getinfo info;
    memset(&info, 0, sizeof info);
    strncpy(info.name, table, sizeof info.name - 1);
    socklen_t len = sizeof info;
    if (getsockopt(fd, level, is_v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info, &len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }

    size_t header = is_v6 ? sizeof(struct ip6t_get_entries) : sizeof(struct ipt_get_entries);
    char *buf = calloc(1, header + info.size);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    struct ipt_get_entries *req = (struct ipt_get_entries *)buf; /* same head layout in v4 and v6 */
    strncpy(req->name, table, sizeof req->name - 1);
    req->size = info.size;
    len = (socklen_t)(header + info.size);
    if (getsockopt(fd, level, is_v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, buf, &len) < 0) {
        int err = errno;
        free(buf);
        close(fd);
        return -err;
    }
    close(fd);

    out->valid_hooks = info.valid_hooks;
    out->num_entries = info.num_entries;
    walk(buf + header, info.size, info.underflow, info.valid_hooks, is_v6, out);
    free(buf);
    return 0;
}

int posture_join_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
}
