import type { CompletionShell } from './parse-args.js';

/**
 * The completion scripts. Each finds deploy.ts among the words typed (after `npx tsx`, `tsx`, or alone as
 * `./deploy.ts`), asks that same command `--complete -- WORDS...` for the candidates of the word at the
 * cursor, and falls back to the shell's own completion (files) when there are none: --out FILE, or a
 * command line that is not Onboarder's. The candidates come from the project, so they are always the
 * chosen environment's targets, never a list frozen into the script.
 */
export function completionScript(shell: CompletionShell): string {
  return { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
}

const bashScript = `# Onboarder completion for bash. Load it with:  source <(npx tsx deploy.ts --completion bash)
# or keep it:  npx tsx deploy.ts --completion bash > ~/.local/share/bash-completion/completions/tsx
_onboarder_complete() {
  local line="\${COMP_LINE:0:COMP_POINT}" index script=-1 start
  local -a words
  read -ra words <<< "$line"
  if [[ -z "$line" || "$line" == *[[:space:]] ]]; then words+=(""); fi
  for index in "\${!words[@]}"; do
    if [[ "\${words[index]}" == *deploy.ts ]]; then script=$index; break; fi
  done
  # Not deploy.ts's command line, or deploy.ts itself being typed: the shell's own completion.
  if (( script < 0 || script == \${#words[@]} - 1 )); then return 0; fi
  start=$script
  while (( start > 0 )); do
    case "\${words[start-1]##*/}" in npx | tsx) start=$((start - 1)) ;; *) break ;; esac
  done
  local current="\${words[\${#words[@]}-1]}"
  local IFS=$'\\n'
  COMPREPLY=($("\${words[@]:start:script-start+1}" --complete -- "\${words[@]:script+1}" 2>/dev/null))
  # bash replaces only what follows the word's last word-break character (':' and '=' are among them).
  local kept="" character
  for ((index = 0; index < \${#current}; index++)); do
    character="\${current:index:1}"
    if [[ "$COMP_WORDBREAKS" == *"$character"* ]]; then kept="\${current:0:index+1}"; fi
  done
  if [[ -n "$kept" ]]; then COMPREPLY=("\${COMPREPLY[@]#"$kept"}"); fi
  # A target named with inputs goes on: no space after 'bundle:create[' or 'node-prep[node='.
  if [[ \${#COMPREPLY[@]} -eq 1 && ( "\${COMPREPLY[0]}" == *"[" || "\${COMPREPLY[0]}" == *"=" ) ]]; then compopt -o nospace 2>/dev/null; fi
  return 0
}
complete -o bashdefault -o default -F _onboarder_complete tsx npx deploy.ts ./deploy.ts
`;

const zshScript = `#compdef tsx npx
# Onboarder completion for zsh. Load it with:  source <(npx tsx deploy.ts --completion zsh)
# (after compinit), or keep it as _onboarder in a directory of your fpath.
_onboarder() {
  local script=\${words[(I)*deploy.ts]}
  if (( script == 0 || script >= CURRENT )); then _default; return; fi
  local start=$script
  while (( start > 1 )) && [[ \${words[start-1]:t} == (npx|tsx) ]]; do (( start-- )); done
  local -a candidates
  # The word being completed as typed so far, unquoted: $PREFIX (within an open quote, words[CURRENT] still has it).
  candidates=("\${(@f)$("\${(@Q)words[start,script]}" --complete -- "\${(@Q)words[script+1,CURRENT-1]}" "\${(Q)PREFIX}" 2>/dev/null)}")
  candidates=(\${candidates:#})
  if (( \${#candidates} == 0 )); then _default; return; fi
  # A target named with inputs goes on: no space after 'bundle:create[' or 'node-prep[node='.
  if (( \${#candidates} == 1 )) && [[ \${candidates[1]} == *(\\[|=) ]]; then compadd -S '' -- "\${candidates[@]}"; return; fi
  compadd -- "\${candidates[@]}"
}
if (( $+functions[compdef] )); then compdef _onboarder tsx npx; fi
`;

const fishScript = `# Onboarder completion for fish. Load it with:  npx tsx deploy.ts --completion fish | source
# or keep it:  npx tsx deploy.ts --completion fish > ~/.config/fish/completions/tsx.fish
function __onboarder_script_index
    set -l tokens (commandline -opc)
    for index in (seq (count $tokens))
        if string match -q -- '*deploy.ts' $tokens[$index]
            echo $index
            return 0
        end
    end
    return 1
end

function __onboarder_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l script (__onboarder_script_index); or return
    set -l start $script
    while test $start -gt 1; and contains -- (string replace -r '.*/' '' -- $tokens[(math $start - 1)]) npx tsx
        set start (math $start - 1)
    end
    set -l rest
    if test (count $tokens) -gt $script
        set rest $tokens[(math $script + 1)..-1]
    end
    set -l candidates ($tokens[$start..$script] --complete -- $rest $current 2>/dev/null)
    if test (count $candidates) -eq 0
        __fish_complete_path $current
        return
    end
    printf '%s\\n' $candidates
end

complete -c tsx -c npx -f -n __onboarder_script_index -a '(__onboarder_complete)'
`;
