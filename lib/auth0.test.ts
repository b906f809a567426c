import { decodeJwtPayload } from './auth0';

jest.mock('expo-auth-session', () => ({}));

function b64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

describe('decodeJwtPayload', () => {
  it('reads the claims of a token', () => {
    const token = `${b64url({ alg: 'RS256' })}.${b64url({ sub: 'auth0|123', email: 'zoë@example.org' })}.sig`;
    expect(decodeJwtPayload(token)).toEqual({ sub: 'auth0|123', email: 'zoë@example.org' });
  });

  it('returns null for garbage', () => {
    expect(decodeJwtPayload('not-a-token')).toBeNull();
    expect(decodeJwtPayload('a.%%%.c')).toBeNull();
  });
});
