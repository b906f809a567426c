/** On iOS and Android nothing is needed: stopping audio that has not started yet raises nothing. */
export function quietAbortedPlayback(): void {}
