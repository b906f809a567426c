import { act, fireEvent, screen } from '@testing-library/react-native';
import { createAudioPlayer } from 'expo-audio';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import { saveAudio } from '@/lib/saveAudio';
import type { SpeechHistoryItem, SpeechHistoryPage } from '@/lib/types';
import { deferred, makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';

import { HISTORY_PAGE, HistoryScreen, voiceLabel } from './HistoryScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));
jest.mock('@/lib/saveAudio', () => ({ SAVE_AUDIO_LABEL: 'Share', saveAudio: jest.fn(async () => undefined) }));

function item(id: string, minute: number, extra: Partial<SpeechHistoryItem> = {}): SpeechHistoryItem {
  return {
    _id: id,
    text: `Words ${id}`,
    voice_model_id: 'm1',
    voice_name: 'Grandma Rose',
    echo_id: null,
    format: 'mp3',
    created_at: `2026-11-20T10:${String(minute).padStart(2, '0')}:00Z`,
    size_bytes: 1000,
    duration_seconds: 4.2,
    audio_url: `/api/audio/${id}.mp3?sig=x`,
    ...extra,
  };
}

function page(items: SpeechHistoryItem[], total = items.length, offset = 0): SpeechHistoryPage {
  return { success: true, items, count: items.length, total, limit: HISTORY_PAGE, offset };
}

function apiWith(items: SpeechHistoryItem[], total?: number): MockApi {
  const api = makeMockApi();
  api.listSpeechHistory.mockResolvedValue(page(items, total));
  api.listEchos.mockResolvedValue({ success: true, echos: [ECHO], count: 1 });
  return api;
}

beforeEach(() => jest.clearAllMocks());

describe('HistoryScreen', () => {
  it('lists what was spoken, newest first, with whose voice and how long', async () => {
    const api = makeMockApi();
    const pending = deferred<SpeechHistoryPage>();
    api.listSpeechHistory.mockReturnValue(pending.promise);
    api.listEchos.mockResolvedValue({ success: true, echos: [ECHO], count: 1 });
    renderWithSession(<HistoryScreen />, { api });
    expect(screen.getByTestId('loading-view')).toBeTruthy();
    await act(async () => pending.resolve(page([item('old', 1), item('new', 9, { echo_id: 'e1' })])));
    const rows = screen.getAllByTestId(/^history-item-(?!error)/);
    expect(rows.map((r) => r.props.testID)).toEqual(['history-item-new', 'history-item-old']);
    expect(screen.getByTestId('history-meta-new').props.children).toMatch(/^Said by Grandma Rose · Voice: Grandma Rose · 4 s · /);
    expect(api.listSpeechHistory).toHaveBeenCalledWith({ limit: HISTORY_PAGE, offset: 0 });
  });

  it('names the voice in plain words', () => {
    expect(voiceLabel(item('a', 1))).toBe('Voice: Grandma Rose');
    expect(voiceLabel(item('a', 1, { voice_name: null }))).toBe('A voice since deleted');
    expect(voiceLabel(item('a', 1, { voice_name: null, voice_model_id: null }))).toBe('The standard voice');
  });

  it('plays an entry again from its signed address, and stops it', async () => {
    renderWithSession(<HistoryScreen />, { api: apiWith([item('a', 1)]) });
    fireEvent.press(await screen.findByTestId('history-play-a'));
    expect(jest.mocked(createAudioPlayer).mock.calls.at(-1)![0]).toEqual({ uri: 'http://localhost:5000/api/audio/a.mp3?sig=x' });
    expect(screen.getByTestId('history-play-a')).toHaveTextContent('Stop');
    fireEvent.press(screen.getByTestId('history-play-a'));
    expect(screen.getByTestId('history-play-a')).toHaveTextContent('Play');
  });

  it('keeps a copy (share or download) at the full address', async () => {
    renderWithSession(<HistoryScreen />, { api: apiWith([item('a', 1)]) });
    await screen.findByTestId('history-save-a');
    await act(async () => fireEvent.press(screen.getByTestId('history-save-a')));
    expect(saveAudio).toHaveBeenCalledWith('http://localhost:5000/api/audio/a.mp3?sig=x', 'echo-2026-11-20T10-01-00.mp3');
  });

  it('says when the sound is no longer kept, and offers no play button', async () => {
    renderWithSession(<HistoryScreen />, { api: apiWith([item('a', 1, { audio_url: null })]) });
    expect(await screen.findByText('The sound is no longer kept.')).toBeTruthy();
    expect(screen.queryByTestId('history-play-a')).toBeNull();
  });

  it('deletes one entry after confirming', async () => {
    const api = apiWith([item('a', 1), item('b', 2)]);
    api.deleteSpeechHistoryItem.mockResolvedValue({ success: true });
    jest.mocked(confirmAsync).mockResolvedValueOnce(false).mockResolvedValueOnce(true);
    renderWithSession(<HistoryScreen />, { api });
    await screen.findByTestId('history-delete-a');
    await act(async () => fireEvent.press(screen.getByTestId('history-delete-a')));
    expect(api.deleteSpeechHistoryItem).not.toHaveBeenCalled();
    await act(async () => fireEvent.press(screen.getByTestId('history-delete-a')));
    expect(api.deleteSpeechHistoryItem).toHaveBeenCalledWith('a');
    expect(screen.queryByTestId('history-item-a')).toBeNull();
    expect(screen.getByTestId('history-item-b')).toBeTruthy();
    expect(screen.getByTestId('history-count')).toHaveTextContent('1 thing spoken, newest first');
  });

  it("shows why a deletion failed on the entry's row", async () => {
    const api = apiWith([item('a', 1)]);
    api.deleteSpeechHistoryItem.mockRejectedValue(new ApiError(503, 'database_unavailable', 'The database is unavailable.'));
    jest.mocked(confirmAsync).mockResolvedValue(true);
    renderWithSession(<HistoryScreen />, { api });
    await screen.findByTestId('history-delete-a');
    await act(async () => fireEvent.press(screen.getByTestId('history-delete-a')));
    expect(screen.getByTestId('history-item-error-a')).toHaveTextContent('The database is unavailable.');
    expect(screen.getByTestId('history-item-a')).toBeTruthy();
  });

  it('deletes everything after confirming', async () => {
    const api = apiWith([item('a', 1), item('b', 2)]);
    api.clearSpeechHistory.mockResolvedValue({ success: true, deleted: 2 });
    jest.mocked(confirmAsync).mockResolvedValue(true);
    renderWithSession(<HistoryScreen />, { api });
    await screen.findByTestId('history-clear');
    await act(async () => fireEvent.press(screen.getByTestId('history-clear')));
    expect(api.clearSpeechHistory).toHaveBeenCalled();
    expect(screen.getByText('Nothing spoken yet')).toBeTruthy();
  });

  it('shows more when there is more', async () => {
    const api = apiWith([item('b', 2)], 2);
    renderWithSession(<HistoryScreen />, { api });
    await screen.findByTestId('history-more');
    api.listSpeechHistory.mockResolvedValue(page([item('a', 1)], 2, 1));
    await act(async () => fireEvent.press(screen.getByTestId('history-more')));
    expect(api.listSpeechHistory).toHaveBeenLastCalledWith({ limit: HISTORY_PAGE, offset: 1 });
    expect(screen.getByTestId('history-item-a')).toBeTruthy();
    expect(screen.queryByTestId('history-more')).toBeNull();
  });
});
