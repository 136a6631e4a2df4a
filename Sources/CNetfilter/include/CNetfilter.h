#ifndef POSTURE_CNETFILTER_H
#define POSTURE_CNETFILTER_H

/* Policy of a built-in chain, as the kernel's x_tables reports it. */
enum {
    POSTURE_XT_POLICY_ABSENT = 0,
    POSTURE_XT_POLICY_ACCEPT = 1,
    POSTURE_XT_POLICY_DROP = 2,
    POSTURE_XT_POLICY_OTHER = 3,
};

/* Hook numbers match the kernel's NF_INET_* (prerouting, input, forward, output, postrouting). */
typedef struct {
    unsigned int valid_hooks;
    unsigned int num_entries;
    unsigned int user_chains;
    unsigned int rules;
    int policies[5];
} posture_xt_table;

/* Reads one legacy iptables table (family AF_INET or AF_INET6) from the calling thread's network
 * namespace. Returns 0, or a negative errno (ENOENT: table not instantiated; EPERM: needs CAP_NET_ADMIN). */
int posture_xt_read_table(int family, const char *table, posture_xt_table *out);

/* Moves the calling thread into the network namespace open at fd (setns(2) with CLONE_NEWNET, which
 * Swift cannot see without _GNU_SOURCE). Returns 0 or a negative errno. */
int posture_join_network_namespace(int fd);

#endif
