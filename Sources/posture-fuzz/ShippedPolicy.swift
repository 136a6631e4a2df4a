// Generated from etc/posture/policy.yaml by Tests/Fuzz/make-corpus.sh; packaging/dev/fuzz.sh fails when they differ.
// swift-format-ignore-file
let shippedPolicyYAML = #"""
# Posture compliance policy: the rules a device must meet to be compliant.
#
# The collector reads this file at start (collector.yaml: policy.path), again on SIGHUP and whenever the
# file changes. A file that does not parse is refused with its file, line and reason, and the policy in
# force stays in force. Check a file before installing it:
#   posture-collector policy check /etc/posture/policy.yaml
#   posture-collector policy test /etc/posture/policy.yaml --report report.json   (or --device ID)
#
# A verdict is one of:
#   compliant     every rule that applies passes (or is waived, or is failing within its grace period)
#   noncompliant  a rule fails, or an operator quarantined the device
#   unknown       no fresh report, or a fact a rule needs is unavailable (see whenUnavailable)
# Keys are strict: an unknown key is an error, so a typo never weakens the policy.

report:
  # The newest accepted report may be this old; after that the device's posture is not known.
  maxAge: 15m
  # What a device without a fresh report is: unknown or noncompliant.
  whenStale: unknown

# What a rule does when the fact it needs is unavailable on the device (no journal, no securityfs...):
# unknown (the verdict becomes unknown), fail (deny on doubt) or pass (skip the rule).
# Each rule may override it.
whenUnavailable: unknown

# How long a policy engine may rely on a signed verdict (the JWT's exp). Never longer than the time
# until the report ages out or a waiver or grace period ends.
verdictLifetime: 5m

# The risk score (0-100) in every verdict: failing rules' severity weights plus journal signals within
# the window, each category capped, plus `baseline` points for each category whose rate departs from the
# device's usual one. It informs; the status decides, unless a maxRisk rule bounds it.
risk:
  window: 1h
  severityWeights: {critical: 40, high: 25, medium: 10, low: 5}
  signals:
    sshAuthFailure: {perEvent: 1, max: 20}
    sshInvalidUser: {perEvent: 2, max: 20}
    sudoAuthFailure: {perEvent: 2, max: 10}
    sudoDenied: {perEvent: 5, max: 15}
    usbDeviceAdded: {perEvent: 5, max: 15}
    securityUnitStopped: {perEvent: 20, max: 40}
    securityUnitFailed: {perEvent: 20, max: 40}
    kernelOops: {perEvent: 5, max: 10}
  # Risk that adapts: a category's events per hour in the window, against the device's usual rate (its
  # earlier events weighted by age, halving every halfLife). Above margin times the usual rate, and above
  # floorPerHour, the category adds `points`, with the reason in riskReasons ("sshAuthFailure 40/h,
  # baseline 0.5/h"). A new device starts from the usual rate of the fleet's devices with the same labels
  # (those with a halfLife of history), its own history taking over as it grows. The collector keeps
  # min(4 halfLife, 28d) of signal history for it, and its retention keeps that much of the attestations.
  baseline: {halfLife: 7d, margin: 5, floorPerHour: 2, points: 20}

# Every rule has:
#   name             unique; letters, digits, - and _ (it appears in verdicts, waivers and SETs)
#   check            what it checks (the kinds below)
#   severity         low | medium | high | critical (default medium); weighs in the risk score
#   grace            optional: a failing rule counts only after failing this long (time to fix it)
#   labels           optional: the rule applies only to devices with all these labels ("*" = any value)
#   whenUnavailable  optional: overrides the top-level whenUnavailable for this rule
#   description      optional: shown to operators
rules:
  # osVersion: os-release VERSION_ID at least `minimum` for its ID. Distributions not listed fail
  # unless otherDistributions: pass.
  - name: os-supported
    check: osVersion
    minimum: {debian: "12", ubuntu: "22.04", fedora: "40", rhel: "9", rocky: "9", almalinux: "9"}
    otherDistributions: fail
    severity: high
    grace: 72h
    description: The distribution release still receives security updates.

  # rootEncrypted: the filesystem at / sits on dm-crypt (LUKS or plain) all the way down.
  - name: root-encrypted
    check: rootEncrypted
    severity: critical

  # swapEncrypted: every active swap area is encrypted (or zram); no swap passes.
  - name: swap-encrypted
    check: swapEncrypted
    severity: high

  # inboundFiltered: nftables or iptables drop or reject unsolicited inbound traffic for each family.
  - name: inbound-filtered
    check: inboundFiltered
    families: [ipv4, ipv6]
    severity: high
    grace: 1h

  # journalEvents: at most `max` journal events of these categories within `window` (summed over the
  # reports issued in the window). Categories: sshAuthFailure, sshInvalidUser, sudoAuthFailure,
  # sudoDenied, sudoToRoot, usbDeviceAdded, securityUnitStopped, securityUnitFailed, kernelOops, segfault.
  - name: ssh-brute-force
    check: journalEvents
    events: [sshAuthFailure, sshInvalidUser]
    max: 50
    window: 1h
    severity: medium

  # secureBoot: UEFI Secure Boot enabled. Off here by default for servers booted by BIOS; scope it with
  # labels to the machines that have it, e.g. labels: {class: laptop}. For a device whose key is in a TPM,
  # what firmware measured into PCR 7 decides (its event log, replayed against the quoted PCRs), not
  # efivars, which the OS could fake; without a log that replays, the rule fails (unproven).
  - name: secure-boot
    check: secureBoot
    severity: medium
    labels: {class: laptop}

  # kernelLockdown: lockdown mode at least `minimum` (integrity or confidentiality).
  # securityModule: at least one of `anyOf` active (apparmor, selinux, smack, tomoyo, landlock...).
  # noPendingReboot: no reboot pending after an update.
  # standingSudo: nobody but `allowed` (user names; `ALL` for a rule for every user, `%group` for a group
  #   not in local files) has sudo by a sudoers rule Posture did not write; time-bound grants
  #   (posturectl access request) do not count, root never does. What is standing is in every report.
  # securityUpdates: security updates the device's own package lists offer (no apt-get update or dnf
  #   makecache by the agent): at most `maxPending` pending (0 when neither bound is given), none offered
  #   longer than `maxPendingAge` (dpkg: since the agent first saw it offered, or the lists' date, a lower
  #   bound of the real wait; rpm: since its advisory was issued), and lists published within `maxListsAge`
  #   (a device that never refreshes its lists has nothing pending). Fails when no security archive is
  #   among the lists (sources.list without the security suite; no enabled dnf repository with advisories).
  #   dpkg, and rpm with dnf's metadata cache (Fedora 33+, RHEL 9+); unknown elsewhere
  #   (Sources/PostureProbes/Packages/README.md).
  # runningKernelCurrent: the running kernel is the newest installed (reboot after a kernel update).
  # maxRisk: the risk score at most `max` (0-100): failing rules, signals and departures from the usual
  #   rates together; a device whose behaviour turns anomalous loses access until it calms down.
  # screenLock: every graphical session (X11, Wayland) that logind says has been idle longer than
  #   `maxIdle` (15m when not given; counted from when the desktop declared it idle) is locked. GNOME and
  #   KDE Plasma report their lock to logind; on other desktops the lock state is unknown and fails the
  #   rule, idle or not, unless `unknownLock: pass`. Terminal and ssh sessions have no screen and never fail it
  #   (Sources/PostureProbes/Sessions/README.md).
  # keyProtection: the device key lives at least `minimum` well (software, tpm), as enrollment proved it
  #   (a TPM: its endorsement certificate chains to the collector's tpm.endorsementRoots and the TPM
  #   certified the key). A report cannot raise it; a device enrolled before has `software`.
  # measuredBoot: a TPM device's quoted PCRs 0-9 (firmware, option ROMs, boot loader, Secure Boot policy,
  #   kernel) are what was recorded for it: at enrollment, or when an operator accepted a new boot after a
  #   firmware or kernel update (posturectl devices accept-boot DEVICE, audited). `pcrs` narrows the
  #   comparison (e.g. [0, 2, 4, 7]); `reference` gives, per PCR, the values a fleet accepts instead of
  #   each device's own (scope such a rule with labels per hardware model). Fails for a software key.
  # (Examples, commented out: enable the ones your fleet meets.)
  # - name: lockdown
  #   check: kernelLockdown
  #   minimum: integrity
  # - name: mac-enforced
  #   check: securityModule
  #   anyOf: [apparmor, selinux]
  # - name: rebooted-after-update
  #   check: noPendingReboot
  #   grace: 24h
  # - name: no-standing-sudo
  #   check: standingSudo
  #   allowed: [ansible]
  # - name: patched
  #   check: securityUpdates
  #   maxPendingAge: 14d
  #   maxListsAge: 7d
  #   severity: high
  # - name: kernel-current
  #   check: runningKernelCurrent
  #   grace: 7d
  # - name: risk-bounded
  #   check: maxRisk
  #   max: 60
  # - name: screen-locked-when-away
  #   check: screenLock
  #   maxIdle: 10m
  #   labels: {class: laptop}
  # - name: key-in-tpm
  #   check: keyProtection
  #   minimum: tpm
  #   severity: high
  # - name: boot-as-recorded
  #   check: measuredBoot
  #   pcrs: [0, 2, 4, 7, 8, 9]
  #   severity: high

  # sshd: when sshd is installed, its effective settings. Lists give the allowed values.
  - name: sshd-hardened
    check: sshd
    permitRootLogin: ["no", prohibit-password]
    permitEmptyPasswords: false
    severity: high

# Just-in-time access (README, "Just-in-time access"): named grants a user on an enrolled device may ask
# for, instead of standing access. Nothing is granted unless a grant here says so. Each grant:
#   name          letters, digits, '-', '_', '.' (at most 64); what `posturectl ssh certificate --grant` and
#                 `posturectl access request --grant` name
#   description   for people
#   users         local user names on the device that may ask (the agent knows who asks from the kernel)
#   groups        local groups whose members may ask (users or groups, at least one)
#   deviceLabels  the device must carry all these labels (as a rule's labels; "*" means any value)
#   ssh           {principals: [...]}: the SSH certificate's principals, the user names it may log in as on
#                 target hosts; ${user} is the asking user's own name
#   sudo          {commands: ALL or [absolute paths with their arguments]}: a sudo role on the device, which
#                 its agent writes as a sudoers drop-in (access.sudoersDirectory in agent.yaml) and removes
#                 at the deadline or as soon as the device turns non-compliant or the grant is revoked
#   maxDuration   the longest a grant lasts (at most 7d); a request may ask for less. An SSH certificate
#                 also ends when the device's verdict would change by itself (its report ages out,
#                 report.maxAge, or a grace period or waiver ends), and target hosts refuse it as soon as the
#                 device turns non-compliant (the KRL)
#   maxRisk       the device's risk score must be at most this (0-100; default 100)
#   approval      auto (granted at once while the conditions hold; the default) or operator (sudo only:
#                 waits for `posturectl access approve ID`, which checks the conditions again)
# Every grant needs a compliant device. Every request, grant and refusal is in the audit trail.
access:
  grants:
    # Log in to servers as yourself for 15 minutes from a compliant laptop of the ops group.
    - name: ops-ssh
      description: SSH to servers as yourself
      groups: [ops]
      ssh:
        principals: ["${user}"]
      maxDuration: 15m
      maxRisk: 40
    # sudo on the device itself for 30 minutes at most, for a member of ops who says why, once an operator
    # approves (posturectl access approve ID); nothing in force until then.
    - name: ops-sudo
      description: sudo on this device, approved by an operator
      groups: [ops]
      sudo:
        commands: ALL
      maxDuration: 30m
      maxRisk: 40
      approval: operator
"""#
