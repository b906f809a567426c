import { buildConfig, ConfigError, DEFAULT_API_URL, parseApiUrl, parseAuth0Config } from './config';

describe('parseApiUrl', () => {
  it('defaults to the local backend', () => {
    expect(parseApiUrl(undefined)).toBe(DEFAULT_API_URL);
    expect(parseApiUrl('  ')).toBe(DEFAULT_API_URL);
  });

  it.each([
    ['http://localhost:5000/', 'http://localhost:5000'],
    ['https://api.echo.example.org', 'https://api.echo.example.org'],
    ['http://127.0.0.1:5055', 'http://127.0.0.1:5055'],
    ['https://example.org/echo-api//', 'https://example.org/echo-api'],
    ['http://[::1]:5000', 'http://[::1]:5000'],
  ])('accepts %s', (raw, expected) => {
    expect(parseApiUrl(raw)).toBe(expected);
  });

  it.each(['localhost:5000', 'ftp://example.org', 'http://', 'http://exa mple.org', 'http://example.org?x=1', 'http://example.org:99999', 'javascript:alert(1)'])(
    'refuses %s',
    (raw) => {
      expect(() => parseApiUrl(raw)).toThrow(ConfigError);
    },
  );
});

describe('parseAuth0Config', () => {
  it('is null when nothing is set (local mode)', () => {
    expect(parseAuth0Config({})).toBeNull();
  });

  it('reads all three settings and strips a scheme from the domain', () => {
    expect(
      parseAuth0Config({ EXPO_PUBLIC_AUTH0_DOMAIN: 'https://echo.eu.auth0.com/', EXPO_PUBLIC_AUTH0_CLIENT_ID: 'abc', EXPO_PUBLIC_AUTH0_AUDIENCE: 'https://api.echo' }),
    ).toEqual({ domain: 'echo.eu.auth0.com', clientId: 'abc', audience: 'https://api.echo' });
  });

  it('refuses a half configuration', () => {
    expect(() => parseAuth0Config({ EXPO_PUBLIC_AUTH0_DOMAIN: 'echo.auth0.com' })).toThrow(/partly configured/);
  });
});

it('builds the whole configuration', () => {
  expect(buildConfig({ EXPO_PUBLIC_API_URL: 'http://localhost:5055' })).toEqual({ apiUrl: 'http://localhost:5055', auth0: null });
});
