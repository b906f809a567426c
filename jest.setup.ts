/** Test doubles for the native modules the app uses; each test sets what it needs on them. */

jest.mock('expo-secure-store', () => {
  const store = new Map<string, string>();
  return {
    __store: store,
    getItemAsync: jest.fn(async (key: string) => store.get(key) ?? null),
    setItemAsync: jest.fn(async (key: string, value: string) => {
      store.set(key, value);
    }),
    deleteItemAsync: jest.fn(async (key: string) => {
      store.delete(key);
    }),
  };
});

jest.mock('expo-audio', () => {
  const players: unknown[] = [];
  const recorder = {
    uri: 'file:///tmp/recording.m4a',
    prepareToRecordAsync: jest.fn(async () => undefined),
    record: jest.fn(),
    stop: jest.fn(async () => undefined),
  };
  const recorderState = { canRecord: true, isRecording: false, durationMillis: 0, mediaServicesDidReset: false, url: null };
  return {
    __players: players,
    __recorder: recorder,
    __recorderState: recorderState,
    RecordingPresets: { HIGH_QUALITY: {} },
    createAudioPlayer: jest.fn((source: unknown) => {
      const listeners: ((status: { didJustFinish: boolean }) => void)[] = [];
      const player = {
        source,
        play: jest.fn(),
        pause: jest.fn(),
        remove: jest.fn(),
        addListener: jest.fn((_event: string, cb: (status: { didJustFinish: boolean }) => void) => {
          listeners.push(cb);
          return { remove: jest.fn() };
        }),
        finish: () => listeners.forEach((cb) => cb({ didJustFinish: true })),
      };
      players.push(player);
      return player;
    }),
    setAudioModeAsync: jest.fn(async () => undefined),
    requestRecordingPermissionsAsync: jest.fn(async () => ({ granted: true, status: 'granted' })),
    useAudioRecorder: jest.fn(() => recorder),
    useAudioRecorderState: jest.fn(() => recorderState),
  };
});

jest.mock('expo-document-picker', () => ({
  getDocumentAsync: jest.fn(async () => ({ canceled: true, assets: null })),
}));
