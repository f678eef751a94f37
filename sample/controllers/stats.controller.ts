import { Controller, Get, Render, UseFilters } from '@nestjs/common';
import { InjectSessions, SessionsService } from 'nestjs-ecto-sessions';
import { API_KEYS } from '../sessions.config';
import { PageExceptionFilter } from '../web/page-exception.filter';

/** Row counts of both kinds, as the seed's demo shows them. */
@Controller('stats')
@UseFilters(PageExceptionFilter)
export class StatsController {
  constructor(
    private readonly sessions: SessionsService,
    @InjectSessions(API_KEYS) private readonly apiKeys: SessionsService,
  ) {}

  @Get()
  @Render('stats')
  async stats() {
    const kinds = await Promise.all(
      [
        { label: 'Sessions', service: this.sessions },
        { label: 'API keys', service: this.apiKeys },
      ].map(async ({ label, service }) => ({
        label,
        table: service.options.tableName,
        total: await service.count({ status: 'all' }),
        active: await service.count({ status: 'valid' }),
        expired: await service.count({ status: 'expired' }),
      })),
    );
    const { pruneInterval, pruneGrace } = this.sessions.options;
    return { title: 'Stats', kinds, pruneInterval, pruneGrace };
  }
}
