import { type ArgumentsHost, Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Request, Response } from 'express';
import { renderError } from './error-page';

/**
 * Errors that no page controller's `PageExceptionFilter` took, above all the router's 404 for an unknown URL:
 * an HTML page like the other error pages, rather than Nest's JSON. The JSON API (`/api/...`) keeps JSON.
 */
@Catch()
export class SiteExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('SiteExceptionFilter');

  override catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return super.catch(exception, host);
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    if (isApi(req.path) || res.headersSent) return super.catch(exception, host);
    if (!(exception instanceof HttpException)) {
      // As Nest would: logged, and answered without details that could leak internals.
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
      return renderError(res, HttpStatus.INTERNAL_SERVER_ERROR, 'Something went wrong on our side. Try again later.');
    }
    const status = exception.getStatus();
    if (status === HttpStatus.NOT_FOUND) return renderError(res, status, 'There is no page at this address:', req.path);
    renderError(res, status, exception.message);
  }
}

function isApi(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}
