import { LookerNodeSDK, NodeSettings } from '@looker/sdk-node';

/** NodeSettings reads credentials from LOOKERSDK_* env vars only; tests hand them in directly. */
class LocalSettings extends NodeSettings {
  constructor(
    base: string,
    private readonly creds: { client_id: string; client_secret: string },
  ) {
    super('LOOKERSDK', { base_url: base, verify_ssl: false, timeout: 30 } as never);
  }

  override readConfig() {
    return { ...this.creds };
  }
}

/** The official Looker 4.0 SDK pointed at a running server. */
export function lookerSdk(baseUrl: string, creds: { client_id: string; client_secret: string }) {
  return LookerNodeSDK.init40(new LocalSettings(baseUrl, creds));
}
