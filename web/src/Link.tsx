import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from 'react';
import { navigate, routePath, type Route } from './router';

type Props = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: Route | string; children: ReactNode };

/** An ordinary link (middle-click, copy link work) that navigates inside the app. */
export function Link({ to, children, onClick, ...rest }: Props) {
  const href = typeof to === 'string' ? to : routePath(to);
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={handle} {...rest}>
      {children}
    </a>
  );
}
