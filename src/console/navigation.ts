/**
 * The console's navigation, in order. A page module adds its entry here; `admin` entries are shown to
 * admins only (the routes themselves are what enforce it, with `config.access`).
 */
interface NavItem {
  href: string;
  label: string;
  admin: boolean;
}

export const NAV: NavItem[] = [
  { href: '/console/connections', label: 'My connections', admin: false },
  { href: '/console/applications', label: 'Applications', admin: true },
  { href: '/console/users', label: 'Users', admin: true },
  { href: '/console/roles', label: 'Roles', admin: true },
  { href: '/console/audit-events', label: 'Audit log', admin: true },
];
