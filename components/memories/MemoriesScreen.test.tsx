import { act, fireEvent, screen } from '@testing-library/react-native';

import { ApiError } from '@/lib/api';
import { confirmAsync } from '@/lib/confirm';
import type { Memory } from '@/lib/types';
import { makeMockApi, type MockApi } from '@/test-utils/api';
import { ECHO } from '@/test-utils/fixtures';
import { renderWithSession } from '@/test-utils/render';
import { mockRouter } from '@/test-utils/router';

import { MemoriesScreen } from './MemoriesScreen';

jest.mock('expo-router', () => require('@/test-utils/router').routerModule());
jest.mock('@/lib/confirm', () => ({ confirmAsync: jest.fn() }));

function memory(id: string, text: string): Memory {
  return { _id: id, echo_id: 'e1', user_id: 'u1', text, created_at: '2026-11-20T10:00:00Z', updated_at: '2026-11-20T10:00:00Z' };
}

const ROSES = memory('k1', 'She grew prize roses.');
const LOVE = memory('k2', 'She called everyone love.');

function setup(memories: Memory[] = [ROSES, LOVE], total = memories.length): MockApi {
  const api = makeMockApi();
  api.getEcho.mockResolvedValue({ success: true, echo: ECHO });
  api.listMemories.mockResolvedValue({ success: true, memories, total, limit: 200, offset: 0 });
  renderWithSession(<MemoriesScreen echoId="e1" />, { api });
  return api;
}

beforeEach(() => jest.clearAllMocks());

describe('MemoriesScreen', () => {
  it("opened from a link or after a reload, leads back to the echo's conversation", async () => {
    mockRouter.canGoBack.mockReturnValue(false);
    setup();
    await screen.findByText('What Grandma Rose remembers');
    expect(screen.getByTestId('header-home-button').props.accessibilityLabel).toBe('Back to Grandma Rose');
    fireEvent.press(screen.getByTestId('header-home-button'));
    expect(mockRouter.replace).toHaveBeenCalledWith({ pathname: '/echo/[id]', params: { id: 'e1' } });
    mockRouter.canGoBack.mockReturnValue(true);
  });

  it('has no extra control when the header can go back by itself', async () => {
    setup();
    await screen.findByText('What Grandma Rose remembers');
    expect(screen.queryByTestId('header-home-button')).toBeNull();
  });

  it('lists what the echo remembers, newest first as the server sends them', async () => {
    const api = setup();
    expect(await screen.findByText('What Grandma Rose remembers')).toBeTruthy();
    expect(api.listMemories).toHaveBeenCalledWith('e1', { limit: 200 });
    const texts = screen.getAllByText(/roses|love/).map((n) => n.props.children);
    expect(texts).toEqual(['She grew prize roses.', 'She called everyone love.']);
  });

  it('shows an empty state', async () => {
    setup([]);
    expect(await screen.findByText('No memories yet')).toBeTruthy();
  });

  it('adds a memory, counting characters', async () => {
    const api = setup([]);
    api.addMemory.mockResolvedValue({ success: true, memory: memory('k3', 'Her blue door.') });
    const input = await screen.findByTestId('memory-input');
    expect(screen.getByTestId('add-memory-button').props.accessibilityState.disabled).toBe(true);
    fireEvent.changeText(input, '  Her blue door. ');
    expect(screen.getByTestId('memory-input-count').props.children).toBe('14 / 1,000');
    await act(async () => fireEvent.press(screen.getByTestId('add-memory-button')));
    expect(api.addMemory).toHaveBeenCalledWith('e1', 'Her blue door.');
    expect(screen.getByTestId('memory-k3')).toBeTruthy();
    expect(screen.getByTestId('memory-input').props.value).toBe('');
  });

  it('refuses a memory over 1,000 characters, in plain words', async () => {
    const api = setup([]);
    fireEvent.changeText(await screen.findByTestId('memory-input'), 'a'.repeat(1001));
    expect(screen.getByTestId('memory-input-count').props.children).toBe('1,001 / 1,000');
    expect(screen.getByTestId('memory-input-problem').props.children).toBe(
      'A memory can be at most 1,000 characters (this one has 1,001). Split it into several.',
    );
    expect(screen.getByTestId('add-memory-button').props.accessibilityState.disabled).toBe(true);
    fireEvent.press(screen.getByTestId('add-memory-button'));
    expect(api.addMemory).not.toHaveBeenCalled();
    fireEvent.changeText(screen.getByTestId('memory-input'), 'a'.repeat(1000));
    expect(screen.queryByTestId('memory-input-problem')).toBeNull();
    expect(screen.getByTestId('add-memory-button').props.accessibilityState.disabled).toBe(false);
  });

  it('says so when the echo has 200 memories, and offers no way to add', async () => {
    setup([ROSES], 200);
    expect(await screen.findByTestId('memory-limit')).toBeTruthy();
    expect(screen.getByText('Grandma Rose has 200 memories, the most an echo can keep. Delete one to add another.')).toBeTruthy();
    expect(screen.queryByTestId('memory-input')).toBeNull();
    expect(screen.queryByTestId('add-memory-button')).toBeNull();
  });

  it("shows the server's words when adding fails (the limit reached elsewhere)", async () => {
    const api = setup([]);
    api.addMemory.mockRejectedValue(new ApiError(400, 'bad_request', 'This echo already has 200 memories, the most it can keep; delete or merge some first.'));
    fireEvent.changeText(await screen.findByTestId('memory-input'), 'One more');
    await act(async () => fireEvent.press(screen.getByTestId('add-memory-button')));
    expect(screen.getByText('This echo already has 200 memories, the most it can keep; delete or merge some first.')).toBeTruthy();
    expect(screen.getByTestId('memory-input').props.value).toBe('One more');
  });

  it('edits a memory in place with PATCH', async () => {
    const api = setup();
    api.updateMemory.mockResolvedValue({ success: true, memory: { ...ROSES, text: 'She grew red roses.' } });
    fireEvent.press(await screen.findByTestId('edit-memory-k1'));
    const field = screen.getByTestId('memory-edit-k1');
    expect(field.props.value).toBe('She grew prize roses.');
    fireEvent.changeText(field, 'She grew red roses. ');
    await act(async () => fireEvent.press(screen.getByTestId('save-memory-k1')));
    expect(api.updateMemory).toHaveBeenCalledWith('e1', 'k1', 'She grew red roses.');
    expect(screen.getByText('She grew red roses.')).toBeTruthy();
    expect(screen.queryByTestId('memory-edit-k1')).toBeNull();
  });

  it('keeps the edit open and says why when saving fails; Cancel puts the text back', async () => {
    const api = setup();
    api.updateMemory.mockRejectedValue(new ApiError(404, 'not_found', 'Memory not found.'));
    fireEvent.press(await screen.findByTestId('edit-memory-k1'));
    fireEvent.changeText(screen.getByTestId('memory-edit-k1'), 'Changed');
    await act(async () => fireEvent.press(screen.getByTestId('save-memory-k1')));
    expect(screen.getByText('Memory not found.')).toBeTruthy();
    expect(screen.getByTestId('memory-edit-k1').props.value).toBe('Changed');
    fireEvent.press(screen.getByTestId('cancel-memory-k1'));
    expect(screen.getByText('She grew prize roses.')).toBeTruthy();
  });

  it('deletes a memory only after confirmation', async () => {
    const api = setup();
    api.deleteMemory.mockResolvedValue({ success: true, deleted: true });
    jest.mocked(confirmAsync).mockResolvedValueOnce(false);
    const del = await screen.findByTestId('delete-memory-k1');
    await act(async () => fireEvent.press(del));
    expect(confirmAsync).toHaveBeenCalledWith('Delete this memory?', expect.stringContaining('She grew prize roses.'));
    expect(api.deleteMemory).not.toHaveBeenCalled();
    expect(screen.getByTestId('memory-k1')).toBeTruthy();

    jest.mocked(confirmAsync).mockResolvedValueOnce(true);
    await act(async () => fireEvent.press(screen.getByTestId('delete-memory-k1')));
    expect(api.deleteMemory).toHaveBeenCalledWith('e1', 'k1');
    expect(screen.queryByTestId('memory-k1')).toBeNull();
    expect(screen.getByTestId('memory-k2')).toBeTruthy();
  });

  it("shows the server's message when the memories cannot be loaded", async () => {
    const api = makeMockApi();
    api.getEcho.mockResolvedValue({ success: true, echo: ECHO });
    api.listMemories.mockRejectedValue(new ApiError(404, 'not_found', 'Echo not found.'));
    renderWithSession(<MemoriesScreen echoId="e1" />, { api });
    expect(await screen.findByText('Echo not found.')).toBeTruthy();
  });
});
