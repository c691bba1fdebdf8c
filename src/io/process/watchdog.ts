// The run's watchdog: a small shell of its own (its own session, so a closed terminal does not
// reach it) that holds a pipe from ptg. ptg can end in ways it cannot handle (kill -9, the OOM
// killer); the pipe then reads end-of-file, and the watchdog ends every agent's whole tree: the
// process groups ptg told it about and every process carrying the run's marker.
// Started by io/process/proc.ts as `/bin/sh -c WATCHDOG ptg-watchdog <marker prefix> <scratch
// folder>`; reads `group <pgid>` and `ended <pgid>` lines, and `done` when ptg ends cleanly: every
// agent has ended, so the watchdog only makes sure that nothing marked is left and exits at once,
// and ptg, which waits for it, returns after. A shell, not node: it starts in a millisecond and
// does not take a node's start-up (100 ms of CPU) from the agents starting beside it.

/**
 * `marked SIG` sends SIG to every process whose environment has an entry starting
 * `PTG_MARKER=<prefix>` (a zombie's environment reads empty) and leaves their number in `found`;
 * `groups_kill SIG` signals the groups ptg named and forgets those that are gone.
 */
export const WATCHDOG = `
prefix=$1 scratch=$2 groups=' ' clean=
trap '' HUP INT
marked() {
  found=0
  for f in $(grep -lzs -- "^PTG_MARKER=$prefix" /proc/[0-9]*/environ); do
    p=\${f#/proc/}; kill -s "$1" "\${p%/environ}" 2>/dev/null; found=$((found + 1))
  done
}
groups_kill() {
  left=' '
  for g in $groups; do kill -s "$1" -- "-$g" 2>/dev/null && left="$left$g "; done
  groups=$left
}
while read -r verb arg; do
  # A group is a number above 0 (\`kill -- -0\` would be the watchdog's own group).
  case $arg in ''|0|*[!0-9]*) [ "$verb" = done ] && clean=1; continue ;; esac
  case $verb in
    group) groups="$groups$arg " ;;
    ended) case $groups in *" $arg "*) groups="\${groups%%" $arg "*} \${groups#*" $arg "}" ;; esac ;;
  esac
done
if [ -n "$clean" ] && [ "$groups" = ' ' ]; then
  # What ptg killed as its agents ended may take a moment to be gone; nothing else is left to end.
  i=0
  while [ $i -lt 500 ]; do marked KILL; [ $found = 0 ] && exit 0; sleep 0.01; i=$((i + 1)); done
  exit 0
fi
# SIGTERM first, as a timeout does; what is still there a moment later gets SIGKILL, until none is.
groups_kill TERM; marked TERM
i=0
while [ $i -lt 50 ]; do
  if [ $i = 0 ]; then sleep 0.3; else sleep 0.1; fi
  groups_kill KILL; marked KILL
  [ $found = 0 ] && [ "$groups" = ' ' ] && break
  i=$((i + 1))
done
# The process helper's job files, which ptg removes as it exits, unless it was killed.
rm -rf "$scratch"
`;
