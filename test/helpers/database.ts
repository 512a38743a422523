/**
 * With TEST_DATABASE_URL unset, tests use SQLite in a temporary directory. The PostgreSQL issue makes
 * this return a fresh database per call when TEST_DATABASE_URL is set.
 */
export async function testDatabaseUrl(): Promise<string | null> {
  return null;
}
