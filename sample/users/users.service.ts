import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/core';
import { User } from './user.entity';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class UsersService {
  constructor(private readonly em: EntityManager) {}

  async create(): Promise<User> {
    const user = new User();
    await this.em.fork().persist(user).flush();
    return user;
  }

  /** The user, or `null`; text that is not a UUID is simply unknown (PostgreSQL would reject it). */
  async findById(id: unknown): Promise<User | null> {
    if (typeof id !== 'string' || !UUID.test(id.trim())) return null;
    return this.em.fork().findOne(User, { id: id.trim().toLowerCase() });
  }
}
