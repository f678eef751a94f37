import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import * as library from 'nestjs-ecto-sessions';
import { getSessionsToken, type Session, SessionsService } from 'nestjs-ecto-sessions';
import { allMetadata } from './orm-versions.js';

/** Resolves packages as this consumer does (its own folder), in ES-module and CommonJS builds alike. */
const appRequire = createRequire(resolve('package.json'));

function version(name: string, from = appRequire): string {
  return from(`${name}/package.json`).version;
}

/** A session as the tests read it, with the JavaScript types of its timestamps. */
function view(session: Session | null) {
  if (!session) return null;
  return {
    ...session.toJSON(),
    instanceOfSession: session instanceof library.Session,
    types: {
      insertedAt: session.insertedAt?.constructor?.name ?? String(session.insertedAt),
      updatedAt: session.updatedAt?.constructor?.name ?? String(session.updatedAt),
      expiresAt: session.expiresAt === null ? 'null' : session.expiresAt?.constructor?.name,
    },
  };
}

/**
 * The service's operations over HTTP, for the end-to-end suite that drives this
 * app from outside (Jest on Node 22 cannot load the ES-module-only NestJS 12 itself).
 * A real app would never expose this.
 */
@Controller('_probe')
export class ProbeController {
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly orm: MikroORM,
  ) {}

  private sessions(kind?: string): SessionsService {
    return this.moduleRef.get(getSessionsToken(kind), { strict: false });
  }

  /** Versions, module systems, and whether app and library share one copy of each framework package. */
  @Get('env')
  env() {
    const libraryEntry = appRequire.resolve('nestjs-ecto-sessions');
    const libraryRequire = createRequire(libraryEntry);
    const samePath = (name: string) =>
      realpathSync(appRequire.resolve(`${name}/package.json`)) ===
      realpathSync(libraryRequire.resolve(`${name}/package.json`));
    const meta = allMetadata(this.orm).map((m: any) => ({
      className: m.className,
      tableName: m.tableName,
      properties: Object.keys(m.properties),
    }));
    return {
      node: process.versions.node,
      requireModule: (process.features as any).require_module ?? null,
      appModuleSystem: typeof require === 'undefined' ? 'esm' : 'cjs',
      versions: {
        '@nestjs/core': version('@nestjs/core'),
        '@nestjs/common': version('@nestjs/common'),
        '@nestjs/platform-express': version('@nestjs/platform-express'),
        '@nestjs/platform-fastify': version('@nestjs/platform-fastify'),
        express: version('express', createRequire(appRequire.resolve('@nestjs/platform-express/package.json'))),
        fastify: version('fastify', createRequire(appRequire.resolve('@nestjs/platform-fastify/package.json'))),
        '@mikro-orm/core': version('@mikro-orm/core'),
        '@mikro-orm/postgresql': version('@mikro-orm/postgresql'),
        '@mikro-orm/nestjs': version('@mikro-orm/nestjs'),
        'nestjs-ecto-sessions': version('nestjs-ecto-sessions'),
      },
      library: {
        entry: realpathSync(libraryEntry),
        inNodeModules: realpathSync(libraryEntry).includes('/node_modules/nestjs-ecto-sessions/'),
        type: appRequire('nestjs-ecto-sessions/package.json').type ?? 'commonjs',
        // One copy of the library: what `import` gave this app is what `require` gives.
        oneCopy: libraryRequire(libraryEntry).SessionsService === SessionsService,
      },
      oneCopy: {
        '@nestjs/core': samePath('@nestjs/core') && libraryRequire('@nestjs/core').ModuleRef === ModuleRef,
        '@nestjs/common': samePath('@nestjs/common'),
        '@mikro-orm/core': samePath('@mikro-orm/core') && libraryRequire('@mikro-orm/core').MikroORM === MikroORM,
        '@mikro-orm/nestjs':
          samePath('@mikro-orm/nestjs') && libraryRequire('@mikro-orm/nestjs').MikroOrmModule === MikroOrmModule,
      },
      injectedOrmIsAppOrm: (this.sessions() as any).orm === this.orm,
      entities: meta,
    };
  }

  @Post('create')
  @HttpCode(200)
  async create(@Body() body: { kind?: string; attrs?: Record<string, unknown> }) {
    const { session, token, expired } = await this.sessions(body.kind).create(body.attrs ?? {});
    return { token, session: view(session), ...(expired ? { expired: expired.map(view) } : {}) };
  }

  @Post('rotate')
  @HttpCode(200)
  async rotate(@Body() body: { kind?: string; id: string }) {
    const rotated = await this.sessions(body.kind).rotate(body.id);
    return rotated ? { token: rotated.token, session: view(rotated.session) } : { token: null, session: null };
  }

  @Post('authenticate')
  @HttpCode(200)
  async authenticate(@Body() body: { kind?: string; token: unknown }) {
    return { session: view(await this.sessions(body.kind).authenticate(body.token)) };
  }

  @Post('find-one')
  @HttpCode(200)
  async findOne(@Body() body: { kind?: string; filters: any }) {
    return { session: view(await this.sessions(body.kind).findOne(body.filters)) };
  }

  @Post('list')
  @HttpCode(200)
  async list(@Body() body: { kind?: string; filters?: any; options?: any }) {
    return { sessions: (await this.sessions(body.kind).list(body.filters ?? {}, body.options ?? {})).map(view) };
  }

  @Post('count')
  @HttpCode(200)
  async count(@Body() body: { kind?: string; filters?: any }) {
    return { count: await this.sessions(body.kind).count(body.filters ?? {}) };
  }

  @Post('update')
  @HttpCode(200)
  async update(@Body() body: { kind?: string; id: string; attrs: any; merge?: boolean }) {
    return { session: view(await this.sessions(body.kind).update(body.id, body.attrs, { merge: body.merge })) };
  }

  @Post('expire')
  @HttpCode(200)
  async expire(@Body() body: { kind?: string; id: string }) {
    return { session: view(await this.sessions(body.kind).expire(body.id)) };
  }

  @Post('delete')
  @HttpCode(200)
  async delete(@Body() body: { kind?: string; id: string }) {
    return { deleted: await this.sessions(body.kind).delete(body.id) };
  }

  @Post('delete-all')
  @HttpCode(200)
  async deleteAll(@Body() body: { kind?: string; filters: any }) {
    return { count: await this.sessions(body.kind).deleteAll(body.filters) };
  }

  @Post('delete-expired')
  @HttpCode(200)
  async deleteExpired(@Body() body: { kind?: string }) {
    return { count: await this.sessions(body.kind).deleteExpired() };
  }

  @Post('prune')
  @HttpCode(200)
  async prune(@Body() body: { kind?: string }) {
    return { deleted: await this.sessions(body.kind).prune() };
  }

  /** Creates a session inside `em.transactional` and fails: the row must go with the rollback. */
  @Post('rollback')
  @HttpCode(200)
  async rollback(@Body() body: { userId: string }) {
    let insideCount = -1;
    try {
      await this.orm.em.transactional(async () => {
        await this.sessions().create({ userId: body.userId });
        insideCount = await this.sessions().count({ userId: body.userId });
        throw new Error('roll back');
      });
    } catch {
      // expected
    }
    return { insideCount, afterCount: await this.sessions().count({ userId: body.userId }) };
  }

  @Post('cache')
  @HttpCode(200)
  cache(@Body() body: { kind?: string }) {
    return this.sessions(body.kind).cacheStatus;
  }

  @Get('options')
  options() {
    const { orm: _orm, ...rest } = this.sessions().options as any;
    const { orm: _orm2, ...apiKeys } = this.sessions('apiKeys').options as any;
    return { default: rest, apiKeys };
  }
}
