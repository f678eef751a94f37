import { Body, Controller, Get, Post, Render, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { UsersService } from '../users/users.service';
import { LAST_USER_COOKIE, readCookie } from '../web/cookies';
import { setFlash } from '../web/flash';
import { PageExceptionFilter } from '../web/page-exception.filter';
import { redirect } from '../web/redirect';
import { SignInService } from '../web/sign-in.service';

/** Sign up and log in. */
@Controller()
@UseFilters(PageExceptionFilter)
export class HomeController {
  constructor(
    private readonly users: UsersService,
    private readonly signInService: SignInService,
  ) {}

  @Get()
  @Render('home')
  home(@Req() req: Request) {
    return { title: 'Home', lastUserId: readCookie(req, LAST_USER_COOKIE) };
  }

  @Post('signup')
  async signUp(@Req() req: Request, @Res() res: Response): Promise<void> {
    const user = await this.users.create();
    await this.signInService.signIn(
      req,
      res,
      user,
      `Welcome! Your user id is ${user.id}: it is all it takes to log in, so keep it secret.`,
    );
    redirect(res, '/account');
  }

  @Post('login')
  async login(@Body('user_id') userId: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const user = await this.users.findById(userId);
    if (!user) {
      setFlash(res, { type: 'error', message: 'Unknown user id. Check it, or sign up for a new one.' });
      return redirect(res, '/');
    }
    await this.signInService.signIn(req, res, user, `You are logged in as ${user.id}.`);
    redirect(res, '/account');
  }
}
